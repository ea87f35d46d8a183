"""Parsing Linux /proc text into the columns of the host tables.

Pure functions over the text of ``/proc/stat``, ``/proc/meminfo``,
``/proc/net/dev`` and ``/proc/loadavg`` (proc(5)), for hosts whose files
arrive as text (over SSH) rather than through psutil. The columns are those
of the local HostCollector (docs/run-directory.md), computed the same way:
psutil reads these same files.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from octperf.collectors._columns import (
    CPU_FIELDS,
    NET_COUNTERS,
    NET_RATES,
    cpu_percentages,
)
from octperf.errors import CollectorError

Jiffies = dict[str, int]

# The columns of a "cpu" line in /proc/stat, in order. Older kernels print
# fewer (steal came in 2.6.11, guest in 2.6.24, guest_nice in 2.6.33).
PROC_STAT_FIELDS = (*CPU_FIELDS, "guest", "guest_nice")

# Receive and transmit columns of /proc/net/dev, under psutil's names;
# None marks a column psutil does not report (fifo, frame, ...).
_NET_DEV_COLUMNS = (
    "bytes_recv",
    "packets_recv",
    "errin",
    "dropin",
    None,
    None,
    None,
    None,
    "bytes_sent",
    "packets_sent",
    "errout",
    "dropout",
)


class NetReading(NamedTuple):
    """One interface's cumulative counters and when they were read."""

    monotonic: float
    counters: dict[str, int]


def parse_proc_stat(text: str) -> dict[str, Jiffies]:
    """CPU time in jiffies per CPU: ``total`` for the ``cpu`` line, else the number.

    CPUs keep /proc's order, ``total`` first. A field the kernel does not
    print is absent from that CPU's dict. Raises CollectorError when there
    is no ``cpu`` line.
    """
    cpus: dict[str, Jiffies] = {}
    for line in text.splitlines():
        name, *values = line.split() or [""]
        if name.startswith("cpu"):
            # Not strict: older kernels print fewer fields.
            fields = zip(PROC_STAT_FIELDS, values, strict=False)
            cpus[name[3:] or "total"] = {field: int(value) for field, value in fields}
    if "total" not in cpus:
        raise CollectorError(f"/proc/stat has no 'cpu' line: {text[:80]!r}")
    return cpus


def cpu_rows(
    before: dict[str, Jiffies], after: dict[str, Jiffies]
) -> list[dict[str, Any]]:
    """``host_cpu`` columns (without ``ts``) per CPU, over the time between readings.

    Percentages of that CPU's time, rounded to 0.01; None when no time
    passed. A CPU missing from ``before`` (brought online since) has no row.
    """
    return [
        {"cpu": cpu, **cpu_percentages(before[cpu], jiffies)}
        for cpu, jiffies in after.items()
        if cpu in before
    ]


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` as key to value, ``kB`` values converted to bytes."""
    info = {}
    for line in text.splitlines():
        key, colon, rest = line.partition(":")
        words = rest.split()
        if colon and words and words[0].isdigit():
            unit = 1024 if words[1:] == ["kB"] else 1
            info[key.strip()] = int(words[0]) * unit
    return info


def memory_row(meminfo: dict[str, int]) -> dict[str, int | None]:
    """``host_memory`` columns (without ``ts``), as psutil defines them.

    ``used`` is total minus available, as ``free`` counts it. Without
    ``MemAvailable`` (kernels before 3.14) available and used are None.
    """
    total = meminfo.get("MemTotal")
    available = meminfo.get("MemAvailable")
    swap_total = meminfo.get("SwapTotal")
    return {
        "total_bytes": total,
        "available_bytes": available,
        "used_bytes": _difference(total, available),
        "swap_total_bytes": swap_total,
        "swap_used_bytes": _difference(swap_total, meminfo.get("SwapFree")),
    }


def _difference(whole: int | None, part: int | None) -> int | None:
    return None if whole is None or part is None else whole - part


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """Cumulative counters per interface from ``/proc/net/dev``, by psutil's names.

    The two header lines are skipped. Raises CollectorError on a line that
    has no ``name:`` or too few numbers.
    """
    interfaces = {}
    for line in text.splitlines()[2:]:
        # rpartition: the counters follow the last colon, with or without a space.
        name, colon, numbers = line.rpartition(":")
        values = numbers.split()
        if not colon or len(values) < len(_NET_DEV_COLUMNS):
            raise CollectorError(f"/proc/net/dev line not understood: {line!r}")
        interfaces[name.strip()] = {
            column: int(value)
            for column, value in zip(_NET_DEV_COLUMNS, values, strict=False)
            if column is not None
        }
    return interfaces


def net_row(previous: NetReading | None, current: NetReading) -> dict[str, Any]:
    """``host_net`` counters and rates (without ``ts`` and ``interface``).

    Rates are per second since ``previous``: None on the first reading,
    and None rather than negative when a counter went backwards (interface
    recreated, counter wrapped).
    """
    row: dict[str, Any] = {name: current.counters[name] for name in NET_COUNTERS}
    for rate, counter in NET_RATES.items():
        row[rate] = None if previous is None else _rate(previous, current, counter)
    return row


def _rate(previous: NetReading, current: NetReading, counter: str) -> float | None:
    elapsed = current.monotonic - previous.monotonic
    delta = current.counters[counter] - previous.counters[counter]
    if elapsed <= 0 or delta < 0:
        return None
    return round(delta / elapsed, 3)


def parse_loadavg(text: str) -> dict[str, float | int]:
    """``host_load`` columns (without ``ts``) from ``/proc/loadavg``.

    ``load_1``, ``load_5``, ``load_15`` are the load averages over 1, 5 and
    15 minutes; ``runnable_tasks`` the threads runnable at the moment of
    reading and ``tasks`` all threads that exist.
    """
    try:
        load_1, load_5, load_15, tasks, _last_pid = text.split()
        runnable, _, total = tasks.partition("/")
        return {
            "load_1": float(load_1),
            "load_5": float(load_5),
            "load_15": float(load_15),
            "runnable_tasks": int(runnable),
            "tasks": int(total),
        }
    except ValueError:
        raise CollectorError(f"/proc/loadavg not understood: {text[:80]!r}") from None
