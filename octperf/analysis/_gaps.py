"""What the run could not measure, and what happened while it ran.

Gaps come from table ``gaps`` (one row per sample a collector failed);
events from the manifest's ``events`` (``haproxy_reload``, ``interrupted``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from octperf.analysis._time import time_origin, with_time
from octperf.store import RunDir

GAP_SPAN_COLUMNS = [
    *("ts", "t", "last_ts", "last_t"),
    *("collector", "error", "reason", "samples"),
]
NONE = "none"
UNKNOWN = "this run has no table gaps: it was made before octperf stored them"
TABLE_COLUMNS = ["from (s)", "to (s)", "source", "samples", "detail"]


def gaps(run: RunDir) -> pd.DataFrame:
    """Each stretch of samples a collector failed for the same reason.

    One row per stretch of consecutive failed samples of one collector with
    the same ``error`` and ``reason`` (a collector sampled less often, as
    the amphora agent's, continues a stretch until its next data: its
    tables are those named after it, ``amphora_agent`` and
    ``amphora_agent_net``): ``ts`` and ``t`` of its first failed
    sample, ``last_ts`` and ``last_t`` of its last, ``collector``, ``error``
    (the exception's class), ``reason`` (its message), ``samples`` (how
    many failed). The data is missing from the last good sample before to
    the first good one after. Empty when the run had no gap, or predates
    table ``gaps`` (``gap_count`` tells the two apart).
    """
    columns = ["ts", "sample", "collector", "error", "reason"]
    rows = run.read_table("gaps").reindex(columns=columns)
    rows = rows.sort_values(["collector", "ts"], kind="stable").reset_index(drop=True)
    answered = _answered(run, set(rows["collector"].dropna()))
    spans = rows.groupby(_stretches(rows, answered), sort=False).agg(
        ts=("ts", "first"),
        last_ts=("ts", "last"),
        collector=("collector", "first"),
        error=("error", "first"),
        reason=("reason", "first"),
        samples=("ts", "size"),
    )
    frame = with_time(spans.reset_index(drop=True), time_origin(run))
    frame["last_t"] = frame["last_ts"] - (frame["ts"] - frame["t"])
    return frame[GAP_SPAN_COLUMNS]


def gap_count(run: RunDir) -> int | None:
    """How many samples failed, all collectors; None if the run did not record it.

    Runs made before table ``gaps`` existed have none: their gaps are
    unknown, not zero.
    """
    return run.table_rows().get("gaps")


def events(run: RunDir) -> pd.DataFrame:
    """What the run recorded as happening: ``ts``, ``t``, ``kind``, ``message``.

    ``kind`` is ``haproxy_reload`` (HAProxy restarted, reloaded or had its
    counters cleared), ``interrupted`` (the run was stopped early) or
    another a later octperf records.
    """
    recorded = run.manifest().get("events") or []
    frame = pd.DataFrame(recorded).reindex(columns=["ts", "kind", "message"])
    frame["ts"] = pd.to_numeric(frame["ts"], errors="coerce")
    return with_time(frame, time_origin(run))


def gaps_and_events_table(run: RunDir) -> pd.DataFrame:
    """Gaps and events in time order, for a report; one row "none" if neither.

    Index: what it is (``gap`` or the event's kind). Columns ``from (s)``,
    ``to (s)`` (seconds since the load started, to 0.1 s: a gap's first and
    last failed sample, an event's moment), ``source`` (the collector),
    ``samples`` (how many failed), ``detail`` (error and reason, or the
    event's message). Cells that do not apply are empty. A run without
    table ``gaps`` gets a first row ``gaps unknown`` instead of its gaps.
    """
    parts = [_gap_part(gaps(run)), _event_part(events(run))]
    if gap_count(run) is None:
        parts.insert(0, pd.DataFrame({"what": ["gaps unknown"], "detail": [UNKNOWN]}))
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.DataFrame([[""] * len(TABLE_COLUMNS)], [NONE], TABLE_COLUMNS)
    table = pd.concat(parts, ignore_index=True).reindex(
        columns=["what", *TABLE_COLUMNS]
    )
    table = table.sort_values("from (s)", kind="stable", na_position="first")
    table = table.set_index("what").rename_axis(index=None)
    table[["from (s)", "to (s)"]] = table[["from (s)", "to (s)"]].round(1)
    table["samples"] = table["samples"].astype("Int64")
    return table.astype(object).where(table.notna(), "")


def _stretches(rows: pd.DataFrame, answered: dict[str, np.ndarray]) -> pd.Series:
    """A number per stretch of consecutive attempts failed for the same reason.

    Rows are sorted by collector and ``ts``. Two failures follow each other
    when their sample numbers do, or when the collector's tables have no
    row between them (``answered``: its data's ``ts``, sorted).
    """
    same = rows[["collector", "error", "reason"]].fillna("")
    changed = (same != same.shift()).any(axis=1)
    # Without sample numbers (an imported table), every row is its own gap.
    following = rows["sample"] == rows["sample"].shift() + 1
    previous = rows["ts"].shift()
    quiet = [
        _none_between(answered.get(str(collector)), before, ts)
        for collector, before, ts in zip(
            rows["collector"], previous, rows["ts"], strict=True
        )
    ]
    return (changed | ~(following | pd.Series(quiet, index=rows.index))).cumsum()


def _none_between(answered: np.ndarray | None, before: float, ts: float) -> bool:
    """Whether data is known to be missing between two failures of a collector."""
    if answered is None or np.isnan(before):
        return False
    first = np.searchsorted(answered, before, side="right")
    return bool(first == np.searchsorted(answered, ts, side="left"))


def _answered(run: RunDir, collectors: set[str]) -> dict[str, np.ndarray]:
    """``ts`` of each collector's data, from its tables (``<name>``, ``<name>_*``).

    A collector without such a table is left out: its failures follow each
    other only by sample number.
    """
    tables = [name for name in run.table_rows() if name != "gaps"]
    answered = {}
    for collector in collectors:
        own = [t for t in tables if t == collector or t.startswith(f"{collector}_")]
        if own:
            times = [run.read_table(t).reindex(columns=["ts"])["ts"] for t in own]
            answered[collector] = np.sort(pd.concat(times).dropna().unique())
    return answered


def _gap_part(spans: pd.DataFrame) -> pd.DataFrame:
    pairs = zip(spans["error"], spans["reason"], strict=True)
    reason = [f"{error}: {message}" for error, message in pairs]
    return pd.DataFrame(
        {
            "what": "gap",
            "from (s)": spans["t"],
            "to (s)": spans["last_t"],
            "source": spans["collector"],
            "samples": spans["samples"],
            "detail": reason,
        }
    )


def _event_part(happened: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "what": happened["kind"],
            "from (s)": happened["t"],
            "detail": happened["message"],
        }
    )
