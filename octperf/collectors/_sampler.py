"""The sampling loop: every collector, on a fixed schedule, into the run's tables."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from octperf.store import RunDir

log = logging.getLogger(__name__)


class Collector(Protocol):
    """Anything the Sampler can poll: a name, and rows per table for a time."""

    name: str

    def sample(self, ts: float) -> dict[str, list[dict[str, Any]]]: ...


class Sampler:
    """Polls collectors every ``interval_s`` seconds in a daemon thread.

    Sample ``k`` is due at ``start + k * interval_s``; a tick missed because
    sampling overran is skipped (counted in ``skipped``), never made up in a
    burst. All collectors of one sample get the same ``ts`` (Unix seconds,
    steady: it never goes backwards within a run). A collector that raises
    does not stop the others: its errors are counted in ``errors`` and each
    distinct one is logged once at WARNING.

    ``start()`` takes the first sample before returning, so a baseline exists
    before the load begins; ``stop()`` takes a last one after the thread has
    ended, so the end of the load is covered.
    """

    def __init__(
        self, run_dir: RunDir, collectors: Sequence[Collector], interval_s: float = 1.0
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        names = [collector.name for collector in collectors]
        if len(set(names)) != len(names):
            raise ValueError(f"collector names must be distinct: {names}")
        self.run_dir = run_dir
        self.collectors = list(collectors)
        self.interval_s = interval_s
        self.samples = 0
        self.skipped = 0
        self.errors = dict.fromkeys(names, 0)
        self._reported: set[tuple[str, str]] = set()
        self._stopping = threading.Event()
        self._sampling = threading.Lock()
        self._thread: threading.Thread | None = None
        self._clock = _SteadyClock()

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Sampler:
        """Take the first sample, then keep sampling in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("this Sampler was already started")
        log.info(
            "sampling %s every %s s into %s",
            ", ".join(self.errors),
            self.interval_s,
            self.run_dir.tables_dir,
        )
        origin = time.monotonic()
        self.sample_now()
        self._thread = threading.Thread(
            target=self._run, args=(origin,), name="octperf-sampler", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """End the thread and take a last sample; does nothing if not running.

        If the thread is still inside a collector after ``timeout_s``, the
        last sample is left out rather than taken concurrently.
        """
        if self._thread is None or self._stopping.is_set():
            return
        self._stopping.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("sampler still busy after %s s; no final sample", timeout_s)
            return
        self.sample_now()
        log.info("sampling stopped: %s samples, errors %s", self.samples, self.errors)

    def sample_now(self) -> None:
        """Poll every collector once and append their rows to the run's tables.

        Safe to call while the thread runs: samples never overlap.
        """
        with self._sampling:
            ts = self._clock.now()
            for collector in self.collectors:
                try:
                    self._collect(collector, ts)
                except Exception as error:
                    self._count(collector.name, error)
            self.samples += 1

    def _run(self, origin: float) -> None:
        tick = 1
        while True:
            due = origin + tick * self.interval_s
            if self._stopping.wait(due - time.monotonic()):
                return
            self.sample_now()
            following = next_tick(origin, self.interval_s, time.monotonic())
            self.skipped += max(following - tick - 1, 0)
            tick = max(following, tick + 1)

    def _collect(self, collector: Collector, ts: float) -> None:
        for source, rows in collector.sample(ts).items():
            if rows:
                self.run_dir.table(source).append(rows)
        log.debug("sampled %s at %.3f", collector.name, ts)

    def _count(self, name: str, error: Exception) -> None:
        self.errors[name] += 1
        message = f"{type(error).__name__}: {error}"
        if (name, message) in self._reported:
            log.debug("collector %s failed again: %s", name, message)
            return
        self._reported.add((name, message))
        log.warning(
            "collector %s failed: %s (sampling goes on; repeats are counted, "
            "not logged)",
            name,
            message,
        )


def next_tick(origin: float, interval_s: float, now: float) -> int:
    """The number of the first tick due strictly after ``now``."""
    return math.floor((now - origin) / interval_s) + 1


class _SteadyClock:
    """Unix time that never steps back: the wall clock at creation plus the
    monotonic time since, so a clock adjustment mid-run cannot reorder rows."""

    def __init__(self) -> None:
        self._wall = time.time()
        self._monotonic = time.monotonic()

    def now(self) -> float:
        return round(self._wall + time.monotonic() - self._monotonic, 6)
