"""The sampling loop: every collector, on a fixed schedule, into the run's tables.

The loop survives its collectors: whatever one raises, the others are still
sampled, the failure is stored as a row of table ``gaps`` and the next
sample is taken on time. What a collector saw happen (HAProxy reloaded) is
recorded once as an event of the run's manifest.
"""

from __future__ import annotations

import csv
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from octperf.errors import OctperfError
from octperf.store import RunDir

log = logging.getLogger(__name__)

GAPS = "gaps"
GAP_COLUMNS = ("ts", "ts_mono", "sample", "collector", "error", "reason")

Tables = dict[str, list[dict[str, Any]]]


class Collector(Protocol):
    """Anything the Sampler can poll: a name, and rows per table for a time.

    A collector that also has ``take_events() -> list[Event]`` hands the
    Sampler what it saw happen since it was last asked; see Sampler.
    """

    name: str

    def sample(self, ts: float) -> Tables: ...


@dataclass(frozen=True)
class Event:
    """Something a collector saw happen, for the manifest's ``events``."""

    kind: str
    message: str


class Stamp(NamedTuple):
    """When a sample was taken: Unix seconds and the monotonic clock's seconds."""

    ts: float
    ts_mono: float


class Sampler:
    """Polls collectors every ``interval_s`` seconds in a daemon thread.

    Sample ``k`` is due at ``start + k * interval_s``; a tick missed because
    sampling overran is skipped (counted in ``skipped``), never made up in a
    burst. All collectors of one sample get the same ``ts`` (Unix seconds,
    steady: it never goes backwards within a run), and every row written
    gets that sample's ``ts_mono`` (``time.monotonic()``) beside it.

    A collector that raises, whatever the exception, does not stop the
    others: each failure is a row of table ``gaps`` (the sample, the
    collector, the exception's class and message) and is counted in
    ``errors``. Each distinct failure is logged once: an OctperfError as a
    WARNING, any other exception (a bug in the collector) as an ERROR with
    its traceback. Events from a collector's ``take_events()`` are added to
    the manifest once each (``RunDir.add_event``).

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
        self._failing = dict.fromkeys(names, 0)  # consecutive failed samples
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
        """Take the first sample, then keep sampling in a daemon thread.

        Table ``gaps`` is created (header only) first, so a run without a
        gap says so, rather than leaving it unknown.
        """
        if self._thread is not None:
            raise RuntimeError("this Sampler was already started")
        log.info(
            "sampling %s every %s s into %s",
            ", ".join(self.errors),
            self.interval_s,
            self.run_dir.tables_dir,
        )
        _create_table(self.run_dir, GAPS, GAP_COLUMNS)
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

        Safe to call while the thread runs: samples never overlap. Never
        raises for a collector's failure.
        """
        with self._sampling:
            stamp = self._clock.now()
            number = self.samples + 1
            for collector in self.collectors:
                self._sample_one(collector, stamp, number)
            self.samples = number

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

    def _sample_one(self, collector: Collector, stamp: Stamp, number: int) -> None:
        try:
            self._collect(collector, stamp)
        except Exception as error:
            self._record_gap(collector.name, stamp, number, error)
            return
        self._recovered(collector.name)
        self._record_events(collector)

    def _collect(self, collector: Collector, stamp: Stamp) -> None:
        for source, rows in collector.sample(stamp.ts).items():
            if rows:
                self.run_dir.table(source).append(stamped(rows, stamp))
        log.debug("sampled %s at %.3f", collector.name, stamp.ts)

    def _record_gap(
        self, name: str, stamp: Stamp, number: int, error: Exception
    ) -> None:
        self.errors[name] += 1
        self._failing[name] += 1
        self._log_failure(name, error)
        row = {
            "ts": stamp.ts,
            "ts_mono": stamp.ts_mono,
            "sample": number,
            "collector": name,
            "error": type(error).__name__,
            "reason": str(error) or "no message",
        }
        append = self.run_dir.table(GAPS).append
        self._guarded(f"storing the gap of {name}", append, [row])

    def _log_failure(self, name: str, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        if (name, message) in self._reported:
            log.debug("collector %s failed again: %s", name, message)
            return
        self._reported.add((name, message))
        if isinstance(error, OctperfError):
            log.warning(
                "collector %s failed: %s (stored in table %s; sampling goes on; "
                "repeats are not logged)",
                name,
                message,
                GAPS,
            )
            return
        log.error(
            "collector %s raised %s, a bug in it (stored in table %s; sampling "
            "goes on; repeats are not logged)",
            name,
            message,
            GAPS,
            exc_info=error,
        )

    def _recovered(self, name: str) -> None:
        failed, self._failing[name] = self._failing[name], 0
        if failed:
            log.info("collector %s answers again after %s failed samples", name, failed)

    def _record_events(self, collector: Collector) -> None:
        take_events = getattr(collector, "take_events", None)
        if take_events is None:
            return
        events = self._guarded(f"taking the events of {collector.name}", take_events)
        for event in events or []:
            log.warning("%s: %s", event.kind, event.message)
            self._guarded(
                f"recording event {event.kind}",
                self.run_dir.add_event,
                event.kind,
                event.message,
            )

    def _guarded(self, what: str, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)``, or None after logging (once per message) what failed."""
        try:
            return call(*args)
        except Exception as error:
            message = f"{what} failed: {type(error).__name__}: {error}"
            if ("", message) not in self._reported:
                self._reported.add(("", message))
                log.error("%s (sampling goes on)", message, exc_info=error)
            return None


def stamped(rows: Sequence[Mapping[str, Any]], stamp: Stamp) -> list[dict[str, Any]]:
    """``rows`` with ``ts_mono`` second, after ``ts`` (the sample's when absent).

    A row's own ``ts`` is kept; its ``ts_mono`` is always the sample's.
    """
    result = []
    for row in rows:
        copy = {"ts": row.get("ts", stamp.ts), "ts_mono": stamp.ts_mono}
        copy.update(row)
        copy["ts_mono"] = stamp.ts_mono
        result.append(copy)
    return result


def next_tick(origin: float, interval_s: float, now: float) -> int:
    """The number of the first tick due strictly after ``now``."""
    return math.floor((now - origin) / interval_s) + 1


def _create_table(run_dir: RunDir, source: str, columns: Sequence[str]) -> None:
    # TableWriter writes a header with its first row only; a table that
    # exists with no row says "none", where a missing one says "unknown".
    path = run_dir.tables_dir / f"{source}.csv"
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow(columns)


class _SteadyClock:
    """Unix time that never steps back: the wall clock at creation plus the
    monotonic time since, so a clock adjustment mid-run cannot reorder rows."""

    def __init__(self) -> None:
        self._wall = time.time()
        self._monotonic = time.monotonic()

    def now(self) -> Stamp:
        """Both clocks from one reading of the monotonic one."""
        monotonic = time.monotonic()
        return Stamp(
            round(self._wall + monotonic - self._monotonic, 6), round(monotonic, 6)
        )
