"""Polling a slow source less often than the sampler ticks, or apart from it."""

from __future__ import annotations

import threading
import time
from typing import Any


class InBackground:
    """Runs a slow collector in a thread of its own, every ``interval_s``.

    The sampler polls its collectors one after another; an amphora agent
    that hangs until its timeout would hold every other source back for
    that long. Here the sampler only takes what the thread finished since
    its last tick: rows, or the last error, which the sampler then stores
    as a gap of this collector. Rows keep the ``ts`` of their own reading.
    """

    def __init__(self, collector: Any, interval_s: float) -> None:
        self.collector = collector
        self.interval_s = interval_s
        self.name = getattr(collector, "name", type(collector).__name__)
        self._lock = threading.Lock()
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"octperf-{self.name}", daemon=True
        )

    def sample(self, ts: float) -> dict[str, list[dict[str, Any]]]:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()
        with self._lock:
            rows, self._rows = self._rows, {}
            error = self._error
        # The last error stands until a reading succeeds: every tick of an
        # outage is a gap, and recovery is reported only when it is real.
        if error is not None:
            raise error
        return rows

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the thread; a reading under way may finish within ``timeout_s``."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._read_once()
            self._stop.wait(self.interval_s)

    def _read_once(self) -> None:
        try:
            tables = self.collector.sample(time.time())
        except Exception as error:
            with self._lock:
                self._error = error
            return
        with self._lock:
            self._error = None
            for table, rows in tables.items():
                self._rows.setdefault(table, []).extend(rows)
