"""Per-second latency histograms: recorded on each worker, merged on the master.

A worker keeps one HdrHistogram of response times (microseconds) per Unix
second in which responses ended, and hands over the seconds that can no
longer change. The master adds the histograms of the same second from all
workers (percentiles are never averaged) and releases a second once every
live worker has reported past it.

A report travels inside Locust's own ``stats`` message, so a second reaches
the master in the same message as Locust's counters for the same requests:

    {"seconds": [[ts, failures, hdr], ...], "complete_before": ts, "final": bool}

``hdr`` is the base64 compressed HdrHistogram encoding; ``complete_before``
says every second before it is complete on that worker; ``final`` says the
worker's users have stopped, so nothing more will come.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

log = logging.getLogger(__name__)

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}

LOCUST_COLUMNS = [
    "ts",
    "requests",
    "failures",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_max_ms",
]
LOCUST_HDR_COLUMNS = ["ts", "count", "hdr"]

Report = dict[str, Any]
Row = dict[str, Any]


def new_histogram() -> HdrHistogram:
    """An empty histogram of response times in microseconds, 1 µs to 1 hour."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def encode(histogram: HdrHistogram) -> str:
    return histogram.encode().decode("ascii")


def decode(encoded: str) -> HdrHistogram:
    return HdrHistogram.decode(encoded)


@dataclass
class Second:
    """What ended within one second: response times and how many failed."""

    histogram: HdrHistogram = field(default_factory=new_histogram)
    failures: int = 0

    def add(self, histogram: HdrHistogram, failures: int) -> None:
        self.histogram.add(histogram)
        self.failures += failures


class SecondRecorder:
    """The worker's side: one histogram per second in which responses ended."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seconds: dict[int, Second] = {}

    def record(self, response_time_ms: float, failed: bool) -> None:
        """Count one response; times are clipped into 1 µs … 1 hour."""
        second = self._seconds.setdefault(int(self._clock()), Second())
        micros = min(max(round(response_time_ms * 1000), LOWEST_US), HIGHEST_US)
        second.histogram.record_value(micros)
        second.failures += int(failed)

    def take(self, final: bool) -> Report:
        """Hand over the finished seconds (all of them when ``final``)."""
        now = int(self._clock())
        done = sorted(ts for ts in self._seconds if final or ts < now)
        seconds = [self._seconds.pop(ts) for ts in done]
        return {
            "seconds": [
                [ts, s.failures, encode(s.histogram)]
                for ts, s in zip(done, seconds, strict=True)
            ],
            "complete_before": now,
            "final": final,
        }

    def reset(self) -> None:
        self._seconds.clear()


class SecondMerger:
    """The master's side: adds workers' seconds and releases complete ones.

    Seconds are released in order, each exactly once, with an empty
    ``Second`` for a second in which no response ended. Data arriving for a
    second already released (which the ordering of reports should prevent)
    is released again as an extra row rather than dropped, and counted in
    ``late_rows``.
    """

    def __init__(self) -> None:
        self.total = Second()
        self.late_rows = 0
        self._pending: dict[int, Second] = {}
        self._late: list[tuple[int, Second]] = []
        self._next_ts: int | None = None
        self._complete_before: dict[str, float] = {}

    def begin(self, ts: float) -> None:
        """Release seconds from ``ts`` on, so a silent first second shows."""
        if self._next_ts is None:
            self._next_ts = int(ts)

    def add(self, worker: str, report: Report) -> None:
        for ts, failures, hdr in report["seconds"]:
            self._add_second(int(ts), decode(hdr), int(failures))
        final = report.get("final", False)
        self._complete_before[worker] = math.inf if final else report["complete_before"]

    def is_final(self, worker: str) -> bool:
        return self._complete_before.get(worker) == math.inf

    def release(self, live_workers: Iterable[str]) -> list[tuple[int, Second]]:
        """Pop the seconds every live worker has reported past."""
        marks = [self._complete_before.get(worker) for worker in live_workers]
        known = [mark for mark in marks if mark is not None]
        if not marks or len(known) < len(marks):
            return self._pop_late()
        return self._pop_late() + self._pop_until(min(known))

    def release_all(self) -> list[tuple[int, Second]]:
        """Pop everything still held, at the end of the run."""
        return self._pop_late() + self._pop_until(math.inf)

    def _add_second(self, ts: int, histogram: HdrHistogram, failures: int) -> None:
        self.total.add(histogram, failures)
        if self._next_ts is not None and ts < self._next_ts:
            log.warning("responses for second %s arrived after it was written", ts)
            self._late.append((ts, Second(histogram, failures)))
            return
        self._pending.setdefault(ts, Second()).add(histogram, failures)

    def _pop_until(self, before: float) -> list[tuple[int, Second]]:
        start = self._next_ts
        if start is None:
            start = min(self._pending, default=None)
        if start is None:
            return []
        if before == math.inf:
            end = max(self._pending, default=start - 1) + 1
        else:
            end = int(before)
        released = [(ts, self._pending.pop(ts, Second())) for ts in range(start, end)]
        self._next_ts = max(start, end)
        return released

    def _pop_late(self) -> list[tuple[int, Second]]:
        late, self._late = self._late, []
        self.late_rows += len(late)
        return late


def percentiles_ms(histogram: HdrHistogram) -> dict[str, float | None]:
    """Mean, p50, p90, p99, p999 and max in milliseconds; None when empty."""
    if histogram.get_total_count() == 0:
        return {name: None for name in ("mean", *PERCENTILES, "max")}
    values = {"mean": histogram.get_mean_value()}
    for name, percentile in PERCENTILES.items():
        values[name] = histogram.get_value_at_percentile(percentile)
    values["max"] = histogram.get_max_value()
    return {name: round(value / 1000, 3) for name, value in values.items()}


def locust_row(ts: int, second: Second) -> Row:
    """A row of the ``locust`` table (docs/run-directory.md)."""
    latency = percentiles_ms(second.histogram)
    row: Row = {
        "ts": ts,
        "requests": second.histogram.get_total_count(),
        "failures": second.failures,
    }
    row.update({f"latency_{name}_ms": value for name, value in latency.items()})
    return row


def hdr_row(ts: int, second: Second) -> Row:
    """A row of the ``locust_hdr`` table (docs/run-directory.md)."""
    count = second.histogram.get_total_count()
    return {"ts": ts, "count": count, "hdr": encode(second.histogram)}
