"""The columns the host tables share, and the CPU arithmetic behind them.

The local collector (psutil) and the SSH collector (/proc text) fill the
same ``host_cpu`` and ``host_net`` columns; both compute CPU percentages
here, from psutil's seconds or /proc/stat's jiffies alike.
"""

from __future__ import annotations

from collections.abc import Mapping

CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

NET_COUNTERS = (
    "bytes_sent",
    "bytes_recv",
    "packets_sent",
    "packets_recv",
    "errin",
    "errout",
    "dropin",
    "dropout",
)
NET_RATES = {
    "tx_bytes_per_s": "bytes_sent",
    "rx_bytes_per_s": "bytes_recv",
    "tx_packets_per_s": "packets_sent",
    "rx_packets_per_s": "packets_recv",
}


def cpu_percentages(
    before: Mapping[str, float], after: Mapping[str, float]
) -> dict[str, float | None]:
    """Each CPU_FIELDS field as a percentage of the elapsed jiffies, and ``busy``."""
    # A counter that went backwards (a CPU replugged) counts as no time.
    deltas = {field: max(after[field] - before.get(field, 0), 0) for field in after}
    # Linux counts guest time inside user and nice as well (proc(5)).
    guest = deltas.get("guest", 0) + deltas.get("guest_nice", 0)
    elapsed = sum(deltas.values()) - guest

    row: dict[str, float | None] = {}
    for field in CPU_FIELDS:
        known = field in deltas and elapsed > 0
        row[field] = _percent(deltas[field], elapsed) if known else None
    row["busy"] = _busy(row["idle"], row["iowait"])
    return row


def _percent(part: float, whole: float) -> float:
    return round(min(100.0 * part / whole, 100.0), 2)


def _busy(idle: float | None, iowait: float | None) -> float | None:
    if idle is None:
        return None
    return round(max(100.0 - idle - (iowait or 0.0), 0.0), 2)
