"""The amphora agent's view of its host, from its ``/1.0/details`` tables.

Tables ``amphora_agent`` and ``amphora_agent_net`` (docs/amphora-agent.md).
The agent reads the host it runs on: on the amphora bed that is this
machine, so its CPU and memory sit beside psutil's ``host_cpu`` and
``host_memory``, and its ``eth1``/``eth2`` are the amphora namespace's.
"""

from __future__ import annotations

import pandas as pd

from octperf.analysis._frames import read_columns, timed
from octperf.analysis._time import load_window, overlapping
from octperf.store import RunDir

AGENT_TABLES = ("amphora_agent", "amphora_agent_net")
KIB_PER_MIB = 1024


def has_amphora_agent(run: RunDir) -> bool:
    """Whether the run's bed had an amphora agent.

    True when a table of the agent holds rows, or the manifest's ``bed``
    names the agent (it may have failed every sample: see the gaps).
    """
    rows = run.table_rows()
    if any(rows.get(table, 0) for table in AGENT_TABLES):
        return True
    return bool((run.manifest().get("bed") or {}).get("agent"))


def agent_cpu(run: RunDir) -> pd.DataFrame:
    """CPU use as the agent computes it from ``/proc/stat`` jiffies.

    Columns ``ts``, ``t``, ``interval_s`` (since the agent's previous
    sample: the interval ``cpu_percent`` covers), ``cpu_percent`` (user +
    system + softirq, percent of all CPUs; psutil's busy adds nice, irq and
    steal). Rows without a value (the first sample) are left out.
    """
    table = read_columns(run, "amphora_agent", ["ts", "cpu_percent"])
    table = table.sort_values("ts", kind="stable")
    table.insert(1, "interval_s", table["ts"].diff())
    return timed(run, table.dropna(subset=["cpu_percent"]))


def agent_cpu_mean(run: RunDir) -> float | None:
    """Mean of the agent's ``cpu_percent`` over the load window, or None.

    A value counts when the interval it covers overlaps the window. The
    mean of per-interval values, not weighted by interval.
    """
    cpu = agent_cpu(run)
    start, end = load_window(run)
    inside = overlapping(cpu["ts"] - cpu["interval_s"], cpu["ts"], start, end)
    values = cpu.loc[inside, "cpu_percent"]
    return float(values.mean()) if len(values) else None


def agent_memory(run: RunDir) -> pd.DataFrame:
    """Memory in use as the agent reports it, in MiB.

    Columns ``ts``, ``t``, ``used_mib`` (MemTotal - MemFree - Buffers -
    Cached of ``/proc/meminfo``, as ``free`` counts it), ``total_mib``.
    """
    columns = ["mem_total_kb", "mem_free_kb", "mem_buffers_kb", "mem_cached_kb"]
    table = read_columns(run, "amphora_agent", ["ts", *columns])
    total, free, buffers, cached = (table[column] for column in columns)
    frame = pd.DataFrame(
        {
            "ts": table["ts"],
            "used_mib": (total - free - buffers - cached) / KIB_PER_MIB,
            "total_mib": total / KIB_PER_MIB,
        }
    )
    return timed(run, frame)


def agent_net(run: RunDir) -> pd.DataFrame:
    """Byte rates of the amphora's interfaces as the agent counted them.

    One row per sample and interface (``eth1`` the VIP's, ``eth2`` the
    members'): ``ts``, ``t``, ``interface``, ``interval_s`` (since that
    interface's previous sample), ``tx_bytes_per_s``, ``rx_bytes_per_s``
    over that interval; empty on an interface's first sample and where a
    counter went back.
    """
    columns = ["ts", "interface", "tx_bytes_per_s", "rx_bytes_per_s"]
    table = read_columns(run, "amphora_agent_net", columns)
    table = table.sort_values(["interface", "ts"], kind="stable")
    table.insert(2, "interval_s", table.groupby("interface")["ts"].diff())
    return timed(run, table)
