"""Tidy frames over time, one per question the report asks of a run.

Every frame has ``ts`` (Unix seconds) and ``t`` (seconds since the load
started) and is empty, with its columns, when the run lacks the table. A
column the source did not write is all unknown (NaN), never zero.
"""

from __future__ import annotations

import pandas as pd

from octperf.analysis._time import time_origin, with_time
from octperf.store import RunDir

# HAProxy's `show stat` "type" field (management guide, section 9.1).
PROXY_KINDS = {0: "frontend", 1: "backend", 2: "server", 3: "listener"}

BYTES_PER_MIB = 1024 * 1024

PERCENTILES = {
    "p50": "latency_p50_ms",
    "p90": "latency_p90_ms",
    "p99": "latency_p99_ms",
}


def client_rate(run: RunDir) -> pd.DataFrame:
    """Requests and failures per second as Locust counted them, all workers.

    Columns ``ts`` (start of the one-second bucket), ``t``, ``requests``,
    ``failures``; a bucket's counts are its rate in requests per second.
    """
    return timed(run, read_columns(run, "locust", ["ts", "requests", "failures"]))


def haproxy_rate(run: RunDir) -> pd.DataFrame:
    """Requests per second each HAProxy frontend received, from ``req_tot``.

    One row per interval between two samples of a frontend, stamped at its
    start like Locust's buckets: ``ts``, ``t``, ``frontend``, ``interval_s``,
    ``requests`` (increase of ``req_tot``), ``requests_per_s``. An interval
    across which HAProxy restarted or reloaded is dropped, so no rate is
    negative, nor made of two processes' counters: one where ``req_tot``
    went back, or where ``haproxy_info`` shows another ``Pid`` or a lower
    ``Uptime_sec`` at its end.
    """
    frame = frontend_increases(run, ["req_tot"]).rename(columns={"req_tot": "requests"})
    return frame.assign(requests_per_s=frame["requests"] / frame["interval_s"])


def haproxy_bytes_rate(run: RunDir) -> pd.DataFrame:
    """Bytes per second each HAProxy frontend received and sent.

    Intervals as in ``haproxy_rate`` (a reload's interval is dropped):
    ``ts`` (its start), ``t``, ``frontend``, ``interval_s``, ``bin`` and
    ``bout`` (increase of the counters over the interval, bytes),
    ``bin_per_s``, ``bout_per_s``. ``bout`` counts what HAProxy wrote to
    its clients, headers and bodies, without TCP/IP overhead.
    """
    frame = frontend_increases(run, ["bin", "bout"])
    return frame.assign(
        bin_per_s=frame["bin"] / frame["interval_s"],
        bout_per_s=frame["bout"] / frame["interval_s"],
    )


def frontend_increases(run: RunDir, counters: list[str]) -> pd.DataFrame:
    """Increase of cumulative frontend ``counters`` between consecutive samples.

    Columns ``ts`` (the interval's start), ``t``, ``frontend``,
    ``interval_s``, then one per counter. An interval is dropped when a
    counter went back or is unknown at either end, or when HAProxy
    restarted or reloaded in it (``haproxy_restarts``).
    """
    stat = read_columns(run, "haproxy_stat", ["ts", "pxname", "type", *counters])
    stat = stat[stat["type"] == 0].sort_values(["pxname", "ts"], kind="stable")
    grouped = stat.groupby("pxname", sort=False)
    frame = pd.DataFrame(
        {
            "ts": grouped["ts"].shift(),
            "frontend": stat["pxname"],
            "interval_s": grouped["ts"].diff(),
            **{counter: grouped[counter].diff() for counter in counters},
        }
    )
    # NaN compares False: an unknown counter drops its interval too.
    kept = (frame[counters] >= 0).all(axis=1) & (frame["interval_s"] > 0)
    kept &= ~stat["ts"].isin(haproxy_restarts(run))
    return timed(run, frame[kept])


def haproxy_restarts(run: RunDir) -> pd.Series:
    """``ts`` of the samples that met a new HAProxy process (reload, restart).

    A sample did when its ``show info`` ``Pid`` differs from the previous
    sample's, or its ``Uptime_sec`` is lower. Empty without ``haproxy_info``.
    """
    info = read_columns(run, "haproxy_info", ["ts", "Pid", "Uptime_sec"])
    info = info.sort_values("ts", kind="stable")
    previous_pid = info["Pid"].shift()
    new_pid = info["Pid"].notna() & previous_pid.notna() & (info["Pid"] != previous_pid)
    uptime_back = info["Uptime_sec"].diff() < 0
    return info.loc[new_pid | uptime_back, "ts"].reset_index(drop=True)


def latency(run: RunDir) -> pd.DataFrame:
    """Response time percentiles per second, long: one row per percentile.

    Columns ``ts``, ``t``, ``percentile`` (``p50``, ``p90``, ``p99``),
    ``latency_ms``. Seconds without responses have no rows.
    """
    table = read_columns(run, "locust", ["ts", *PERCENTILES.values()])
    frame = table.rename(columns={v: k for k, v in PERCENTILES.items()}).melt(
        id_vars="ts", var_name="percentile", value_name="latency_ms"
    )
    return timed(run, frame.dropna(subset=["latency_ms"]))


def connections(run: RunDir) -> pd.DataFrame:
    """Sessions and queues of every proxy and server, one row per sample.

    Columns ``ts``, ``t``, ``pxname``, ``svname``, ``kind`` (``frontend``,
    ``backend``, ``server``, ``listener``), ``scur`` (current sessions),
    ``slim`` (their limit), ``qcur`` (requests queued, backends and servers
    only).
    """
    columns = ["ts", "pxname", "svname", "type", "scur", "slim", "qcur"]
    frame = read_columns(run, "haproxy_stat", columns)
    frame.insert(3, "kind", frame.pop("type").map(PROXY_KINDS))
    return timed(run, frame)


def cpu_by_role(run: RunDir) -> pd.DataFrame:
    """CPU of each role per sample: the sum over its processes and children.

    Columns ``ts``, ``t``, ``role``, ``cpu_percent`` (percent of one core, so
    above 100 for a role using several).
    """
    table = read_columns(run, "process", ["ts", "role", "cpu_percent"])
    grouped = table.groupby(["ts", "role"], as_index=False, sort=False)
    return timed(run, grouped["cpu_percent"].sum(min_count=1))


def host_cpu(run: RunDir) -> pd.DataFrame:
    """Host CPU use per sample and CPU (``cpu`` is ``total`` or its number).

    Columns ``ts``, ``t``, ``cpu``, then ``busy``, ``user``, ``system``,
    ``softirq``, ``irq``, ``iowait``, ``steal`` in percent of that CPU.
    """
    columns = ["ts", "cpu", "busy", "user", "system", "softirq", "irq", "iowait"]
    frame = read_columns(run, "host_cpu", [*columns, "steal"])
    frame["cpu"] = frame["cpu"].astype(str)
    return timed(run, frame)


def host_memory(run: RunDir) -> pd.DataFrame:
    """Memory in use on the sampling host as psutil saw it, in MiB.

    Columns ``ts``, ``t``, ``used_mib`` (psutil's ``used``, which psutil 5.9
    and later compute as MemTotal - MemAvailable on Linux), ``total_mib``.
    """
    table = read_columns(run, "host_memory", ["ts", "used_bytes", "total_bytes"])
    frame = pd.DataFrame(
        {
            "ts": table["ts"],
            "used_mib": table["used_bytes"] / BYTES_PER_MIB,
            "total_mib": table["total_bytes"] / BYTES_PER_MIB,
        }
    )
    return timed(run, frame)


def read_columns(run: RunDir, source: str, columns: list[str]) -> pd.DataFrame:
    """``columns`` of table ``source``; absent columns are unknown (NaN)."""
    return run.read_table(source).reindex(columns=columns)


def timed(run: RunDir, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted by ``ts``, with ``t`` counted from the run's origin."""
    return with_time(frame, time_origin(run))
