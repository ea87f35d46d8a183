"""Polling a slow source less often than the sampler ticks."""

from __future__ import annotations

import time
from typing import Any


class Throttled:
    """Calls ``collector.sample`` at most once per ``interval_s``.

    The amphora agent answers one call at a time in about 100 ms and forks
    dpkg-query on each; polling it every second would load the amphora it
    measures. Ticks in between return no rows.
    """

    def __init__(self, collector: Any, interval_s: float) -> None:
        self.collector = collector
        self.interval_s = interval_s
        self.name = getattr(collector, "name", type(collector).__name__)
        self._last: float | None = None

    def sample(self, ts: float) -> dict[str, list[dict[str, Any]]]:
        now = time.monotonic()
        # Half a tick of slack, so sampler jitter does not skip a whole period.
        if self._last is not None and now - self._last < self.interval_s - 0.5:
            return {}
        self._last = now
        return self.collector.sample(ts)
