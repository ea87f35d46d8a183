"""Host and process metrics from psutil: ``host_cpu``, ``host_memory``,
``host_net`` and ``process`` rows.

Percentages and rates cover the interval since the same collector's previous
sample; the first interval starts when the collector is made (or, for a
process, when it is first seen). A value that cannot be known is ``None``,
never zero.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeVar

import psutil

from octperf.collectors._columns import NET_COUNTERS, NET_RATES, cpu_percentages

log = logging.getLogger(__name__)

T = TypeVar("T")
Rows = dict[str, list[dict[str, Any]]]

# Linux accounts CPU time in ticks of 10 ms (USER_HZ = 100): over a shorter
# interval one tick more or less would swing a CPU's percentages wildly.
MIN_CPU_INTERVAL_S = 0.05


class _NetReading(NamedTuple):
    monotonic: float
    counters: Any  # psutil's snetio


class HostCollector:
    """Samples the whole host: CPU per core and in total, memory, interfaces.

    ``interfaces`` limits ``host_net`` to those names (all when None).

    CPU percentages are None when less than MIN_CPU_INTERVAL_S has passed
    since the previous reading; the next sample then covers both intervals.
    They are computed here from ``psutil.cpu_times``, not by
    ``psutil.cpu_times_percent``, which keeps its previous reading per
    calling thread: the Sampler samples from its own thread and once more
    from the thread that stops it, and each would get a wrong interval.
    """

    def __init__(
        self, interfaces: Iterable[str] | None = None, name: str = "host"
    ) -> None:
        self.name = name
        self.interfaces = None if interfaces is None else set(interfaces)
        self._cpu = _cpu_reading()
        self._cpu_at = time.monotonic()
        self._net: dict[str, _NetReading] = {}
        self._missing_warned: set[str] = set()

    def sample(self, ts: float) -> Rows:
        """Rows of ``host_cpu`` (``total`` first), ``host_memory`` and ``host_net``."""
        return {
            "host_cpu": self._cpu_rows(ts),
            "host_memory": [_memory_row(ts)],
            "host_net": self._net_rows(ts),
        }

    def _cpu_rows(self, ts: float) -> list[dict[str, Any]]:
        # After too short an interval the previous reading stays the base:
        # comparing it with itself gives unknown (None) percentages.
        before, now = self._cpu, time.monotonic()
        if now - self._cpu_at >= MIN_CPU_INTERVAL_S:
            self._cpu, self._cpu_at = _cpu_reading(), now
        (total_before, per_cpu_before), (total_after, per_cpu_after) = before, self._cpu

        rows = [_cpu_row(ts, "total", total_before, total_after)]
        # Not strict: a CPU brought online mid-run has no earlier reading.
        pairs = zip(per_cpu_before, per_cpu_after, strict=False)
        for number, (before_cpu, after_cpu) in enumerate(pairs):
            rows.append(_cpu_row(ts, str(number), before_cpu, after_cpu))
        return rows

    def _net_rows(self, ts: float) -> list[dict[str, Any]]:
        now = time.monotonic()
        counters = psutil.net_io_counters(pernic=True)
        self._warn_missing(counters)

        rows = []
        for interface, current in counters.items():
            if self.interfaces is None or interface in self.interfaces:
                previous = self._net.get(interface)
                reading = _NetReading(now, current)
                self._net[interface] = reading
                rows.append(_net_row(ts, interface, previous, reading))
        return rows

    def _warn_missing(self, counters: Mapping[str, Any]) -> None:
        missing = (self.interfaces or set()) - set(counters) - self._missing_warned
        if missing:
            self._missing_warned |= missing
            log.warning(
                "interfaces %s not on this host (it has %s); no host_net rows for them",
                sorted(missing),
                sorted(counters),
            )


def _cpu_reading() -> tuple[Any, list[Any]]:
    return psutil.cpu_times(), psutil.cpu_times(percpu=True)


def _cpu_row(ts: float, cpu: str, before: Any, after: Any) -> dict[str, Any]:
    # psutil's cpu_times are seconds, /proc/stat's jiffies: the percentages
    # are the same, so the SSH collector's arithmetic serves both.
    percentages = cpu_percentages(before._asdict(), after._asdict())
    return {"ts": ts, "cpu": cpu, **percentages}


def _memory_row(ts: float) -> dict[str, Any]:
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return {
        "ts": ts,
        "total_bytes": memory.total,
        "available_bytes": memory.available,
        "used_bytes": memory.used,
        "swap_total_bytes": swap.total,
        "swap_used_bytes": swap.used,
    }


def _net_row(
    ts: float, interface: str, previous: _NetReading | None, current: _NetReading
) -> dict[str, Any]:
    row: dict[str, Any] = {"ts": ts, "interface": interface}
    for counter in NET_COUNTERS:
        row[counter] = getattr(current.counters, counter)
    # Rate columns are present (empty) on the first sample too: the table's
    # columns are fixed by its first row.
    for rate, counter in NET_RATES.items():
        row[rate] = None if previous is None else _rate(previous, current, counter)
    return row


def _rate(previous: _NetReading, current: _NetReading, counter: str) -> float | None:
    """Per-second increase; None when the counter went backwards (reset, wrap)."""
    elapsed = current.monotonic - previous.monotonic
    delta = getattr(current.counters, counter) - getattr(previous.counters, counter)
    if elapsed <= 0 or delta < 0:
        return None
    return round(delta / elapsed, 3)


class ProcessCollector:
    """Samples each role's process and its children (nginx workers, ...).

    ``roles`` maps a role (``haproxy``, ``member-1``, ...) to a PID. A
    process seen for the first time has ``cpu_percent`` None: psutil needs
    two readings. Processes given as roles are primed when added, so their
    first sample has a value. A process that exits is dropped from the rows.
    """

    def __init__(
        self, roles: Mapping[str, int] | None = None, name: str = "process"
    ) -> None:
        self.name = name
        self._roles: dict[str, int] = {}
        self._cache: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()  # add() is called while the Sampler runs
        for role, pid in (roles or {}).items():
            self.add(role, pid)

    @property
    def roles(self) -> dict[str, int]:
        with self._lock:
            return dict(self._roles)

    def add(self, role: str, pid: int) -> None:
        """Sample ``pid`` as ``role`` from now on (replacing that role's PID).

        A PID that does not exist is accepted and yields no rows.
        """
        with self._lock:
            self._roles[role] = pid
            self._track(pid)

    def sample(self, ts: float) -> Rows:
        """``process`` rows: one per live process of every role."""
        with self._lock:
            rows = []
            for role, pid in self._roles.items():
                for process, fresh in self._family(pid):
                    row = _process_row(ts, role, process, fresh)
                    if row is not None:
                        rows.append(row)
            self._forget_all_but({row["pid"] for row in rows})
        return {"process": rows}

    def _family(self, pid: int) -> list[tuple[psutil.Process, bool]]:
        # A role's own process is only ever the one seen when it was added:
        # once it exits, its PID may be reused by an unrelated process.
        root = self._cache.get(pid)
        if root is None or not _live(root):
            log.debug("pid %s has exited; no rows for it", pid)
            return []
        try:
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            log.debug("pid %s exited before its children were listed", pid)
            return []

        # A child that is itself a role is sampled under that role only.
        claimed = set(self._roles.values())
        family = [(root, False)]
        for child in children:
            tracked = None if child.pid in claimed else self._track(child.pid, child)
            if tracked is not None:
                family.append(tracked)
        return family

    def _track(
        self, pid: int, process: psutil.Process | None = None
    ) -> tuple[psutil.Process, bool] | None:
        """The cached Process of ``pid`` and whether it is new; None if gone.

        The cached object is what lets cpu_percent cover the interval since
        the previous sample; is_running() also catches a reused PID.
        """
        cached = self._cache.get(pid)
        if cached is not None and cached.is_running():
            return cached, False
        try:
            process = process or psutil.Process(pid)
            process.cpu_percent(None)  # the first reading only starts the interval
        except psutil.NoSuchProcess:
            log.debug("pid %s is gone; not sampled", pid)
            return None
        self._cache[pid] = process
        return process, True

    def _forget_all_but(self, alive: set[int]) -> None:
        for pid in set(self._cache) - alive:
            del self._cache[pid]


def _process_row(
    ts: float, role: str, process: psutil.Process, fresh: bool
) -> dict[str, Any] | None:
    try:
        with process.oneshot():
            return {
                "ts": ts,
                "role": role,
                "pid": process.pid,
                "ppid": process.ppid(),
                "name": process.name(),
                "cpu_percent": None if fresh else process.cpu_percent(None),
                "rss_bytes": _allowed(lambda: process.memory_info().rss),
                "num_threads": _allowed(process.num_threads),
                "num_fds": _allowed(getattr(process, "num_fds", lambda: None)),
            }
    except psutil.NoSuchProcess:
        log.debug("%s pid %s exited during the sample; dropped", role, process.pid)
        return None


def _allowed(read: Callable[[], T]) -> T | None:
    """``read()``, or None when the OS denies it (another user's process)."""
    try:
        return read()
    except psutil.AccessDenied:
        return None


def _live(process: psutil.Process) -> bool:
    """Running and not a zombie: an exited process nobody reaped yet is gone."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
