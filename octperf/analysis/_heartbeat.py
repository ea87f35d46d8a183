"""Octavia's view of the amphora: the agent's UDP heartbeat beside HAProxy.

Table ``heartbeat`` holds, per heartbeat and listener, what the health
manager gets. The agent computes ``tx``, ``rx``, ``totconns`` and ``ereq``
as increases of the frontend's ``bout``, ``bin``, ``stot`` and ``ereq``
since its previous heartbeat (a counter that went down counts from zero),
while ``conns`` is the frontend's ``scur`` when it read it
(``octavia/amphorae/backends/health_daemon/health_daemon.py``,
``calculate_stats_deltas`` and ``build_stats_message``). A heartbeat's
interval therefore runs from the previous heartbeat's arrival to its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from octperf.analysis._frames import (
    frontend_increases,
    haproxy_restarts,
    read_columns,
    timed,
)
from octperf.analysis._time import load_window, overlapping
from octperf.store import RunDir

# What a heartbeat carries -> the frontend counter it is the increase of.
DELTAS = {"tx": "bout", "rx": "bin", "totconns": "stot", "ereq": "ereq"}
HEARTBEAT_COLUMNS = [
    *("ts", "amphora_id", "seq", "listener_id", "status"),
    *("tx", "rx", "conns", "totconns", "ereq"),
]
TOTALS = {
    "bytes out (tx | bout)": "tx",
    "bytes in (rx | bin)": "rx",
    "connections (totconns | stot)": "totconns",
    "request errors (ereq)": "ereq",
}
TOTAL_COLUMNS = ["heartbeat", "HAProxy", "difference (%)"]
NO_DATA = "no data"


def has_heartbeat(run: RunDir) -> bool:
    """Whether the run received heartbeats or its bed listened for them."""
    if run.table_rows().get("heartbeat", 0):
        return True
    return bool((run.manifest().get("bed") or {}).get("heartbeat"))


def heartbeat_count(run: RunDir) -> int | None:
    """Heartbeats received over the whole run; None without table ``heartbeat``.

    A heartbeat is one datagram, whatever the number of its listeners.
    """
    if "heartbeat" not in run.table_rows():
        return None
    table = read_columns(run, "heartbeat", ["ts", "amphora_id", "seq"])
    return len(table.drop_duplicates())


def heartbeats(run: RunDir) -> pd.DataFrame:
    """Each heartbeat's listener counters beside HAProxy's over its interval.

    One row per heartbeat and listener: ``ts`` (arrival), ``t``,
    ``interval_s`` (since the amphora's previous heartbeat; NaN for the
    first), ``amphora_id``, ``seq``, ``listener_id``, ``status``, ``tx``,
    ``rx``, ``conns``, ``totconns``, ``ereq``; then the frontend named by
    the listener ID, over the same interval: ``haproxy_bout``,
    ``haproxy_bin``, ``haproxy_stot``, ``haproxy_ereq`` (increases,
    interpolated linearly between the samples around each end; NaN when
    HAProxy restarted or reloaded in between, or the samples do not reach)
    and ``haproxy_scur`` (the sample nearest the arrival).
    """
    beats = read_columns(run, "heartbeat", HEARTBEAT_COLUMNS)
    beats = _with_intervals(beats).dropna(subset=["listener_id"])
    parts = [
        _beside_haproxy(listener, _frontend_samples(run, str(name)))
        for name, listener in beats.groupby("listener_id", sort=False)
    ]
    columns = [*beats.columns, *(f"haproxy_{c}" for c in [*DELTAS.values(), "scur"])]
    frame = pd.concat(parts) if parts else pd.DataFrame(columns=columns)
    return timed(run, frame.reindex(columns=columns))


def heartbeat_totals(run: RunDir) -> pd.DataFrame:
    """Totals over the load window, from the heartbeat and from HAProxy.

    Index: the quantity (bytes out, bytes in, connections, request errors,
    the listener status seen, the intervals added up). Columns
    ``heartbeat``, ``HAProxy`` and ``difference (%)`` ((heartbeat -
    HAProxy) / HAProxy x 100). Each side adds up its intervals that overlap
    the load window: heartbeats (from the previous heartbeat's arrival)
    and HAProxy's sample-to-sample increases of the listeners' frontends
    (every frontend when no heartbeat named one), an interval across a
    reload left out. The status is each value seen
    with how many heartbeats (or samples) showed it.
    """
    start, end = load_window(run)
    beats = heartbeats(run)
    first = beats["ts"] - beats["interval_s"]
    beats = beats[overlapping(first, beats["ts"], start, end)]
    listeners = set(beats["listener_id"]) or None
    haproxy = _frontend_totals(run, listeners, start, end)
    rows = {
        name: _compared(_sum(beats[field]), _sum(haproxy[DELTAS[field]]))
        for name, field in TOTALS.items()
    }
    rows["listener status"] = [
        _statuses(beats["status"]),
        _statuses(_frontend_status(run, listeners, start, end)),
        "",
    ]
    rows["intervals added up"] = [beats["ts"].nunique(), len(haproxy), ""]
    table = pd.DataFrame.from_dict(
        rows, orient="index", columns=TOTAL_COLUMNS, dtype=object
    )
    return table.where(table.notna(), NO_DATA)


def _with_intervals(beats: pd.DataFrame) -> pd.DataFrame:
    """``beats`` with ``interval_s`` since the same amphora's previous datagram."""
    arrivals = beats[["amphora_id", "ts"]].drop_duplicates().sort_values("ts")
    grouped = arrivals.groupby("amphora_id", dropna=False, sort=False)
    arrivals["interval_s"] = grouped["ts"].diff()
    merged = beats.merge(arrivals, on=["amphora_id", "ts"], how="left")
    merged.insert(1, "interval_s", merged.pop("interval_s"))
    return merged


def _frontend_samples(run: RunDir, frontend: str) -> pd.DataFrame:
    """One frontend's samples with ``process``: which HAProxy counted them.

    ``process`` goes up at each restart or reload, and wherever a counter
    went back (``clear counters``), so counters only grow within one.
    """
    counters = list(DELTAS.values())
    stat = read_columns(
        run, "haproxy_stat", ["ts", "pxname", "type", "scur", *counters]
    )
    stat = stat[(stat["type"] == 0) & (stat["pxname"] == frontend)]
    stat = stat.sort_values("ts", kind="stable").reset_index(drop=True)
    went_back = (stat[counters].diff() < 0).any(axis=1)
    restarted = stat["ts"].isin(haproxy_restarts(run))
    return stat.assign(process=(went_back | restarted).cumsum())


def _beside_haproxy(beats: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """One listener's heartbeats with the frontend's counters beside them."""
    beats = beats.sort_values("ts", kind="stable").reset_index(drop=True)
    begin = (beats["ts"] - beats["interval_s"]).to_numpy(float)
    until = beats["ts"].to_numpy(float)
    columns = {}
    for counter in DELTAS.values():
        before, process_before = _counter_at(samples, counter, begin)
        after, process_after = _counter_at(samples, counter, until)
        same = process_before == process_after  # NaN never equals
        columns[f"haproxy_{counter}"] = np.where(same, after - before, np.nan)
    columns["haproxy_scur"] = _nearest(samples, "scur", until)
    return beats.assign(**columns)


def _counter_at(
    samples: pd.DataFrame, counter: str, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A counter's value at times ``at`` and the process it belongs to.

    Linear between the two samples around each time, exact on a sample;
    NaN (both) before the first sample, after the last, or between the
    samples of two processes.
    """
    ts = samples["ts"].to_numpy(float)
    values = samples[counter].to_numpy(float)
    process = samples["process"].to_numpy(float)
    if not len(ts):
        return np.full(len(at), np.nan), np.full(len(at), np.nan)
    after = np.searchsorted(ts, at, side="right")  # first sample later than `at`
    left = np.clip(after - 1, 0, len(ts) - 1)
    right = np.clip(after, 0, len(ts) - 1)
    exact = (after >= 1) & (ts[left] == at)
    between = (after >= 1) & (after < len(ts)) & (process[left] == process[right])
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = (at - ts[left]) / (ts[right] - ts[left])
    value = values[left] + fraction * (values[right] - values[left])
    value = np.where(exact, values[left], np.where(between, value, np.nan))
    return value, np.where(exact | between, process[left], np.nan)


def _nearest(samples: pd.DataFrame, column: str, at: np.ndarray) -> np.ndarray:
    """``column`` of the sample nearest each time in ``at``; NaN without samples."""
    if samples.empty:
        return np.full(len(at), np.nan)
    ts = samples["ts"].to_numpy(float)
    after = np.clip(np.searchsorted(ts, at), 0, len(ts) - 1)
    before = np.clip(after - 1, 0, len(ts) - 1)
    nearer = np.where(np.abs(ts[before] - at) <= np.abs(ts[after] - at), before, after)
    return samples[column].to_numpy(float)[nearer]


def _frontend_totals(
    run: RunDir, listeners: set[str] | None, start: float | None, end: float | None
) -> pd.DataFrame:
    """Frontend increases over intervals overlapping the window.

    Only the frontends named in ``listeners``; all of them for None.
    """
    increases = frontend_increases(run, list(DELTAS.values()))
    last = increases["ts"] + increases["interval_s"]
    inside = overlapping(increases["ts"], last, start, end)
    if listeners is not None:
        inside &= increases["frontend"].isin(listeners)
    return increases[inside]


def _frontend_status(
    run: RunDir, listeners: set[str] | None, start: float | None, end: float | None
) -> pd.Series:
    """Frontends' ``status`` in the samples within the window (None: all)."""
    stat = read_columns(run, "haproxy_stat", ["ts", "pxname", "type", "status"])
    inside = stat["type"] == 0
    if listeners is not None:
        inside &= stat["pxname"].isin(listeners)
    if start is not None:
        inside &= stat["ts"] >= start
    if end is not None:
        inside &= stat["ts"] <= end
    return stat.loc[inside, "status"]


def _compared(heartbeat: int | None, haproxy: int | None) -> list[object]:
    """A totals row: both values and their difference in percent (0.01)."""
    difference: object = ""
    if heartbeat is not None and haproxy:
        difference = round((heartbeat - haproxy) / haproxy * 100, 2)
    return [heartbeat, haproxy, difference]


def _sum(values: pd.Series) -> int | None:
    known = values.dropna()
    return int(known.sum()) if len(known) else None


def _statuses(values: pd.Series) -> str | None:
    """``OPEN (12), FULL (1)``: each value with its count, most seen first."""
    counts = values.dropna().value_counts()
    if counts.empty:
        return None
    return ", ".join(f"{status} ({count})" for status, count in counts.items())
