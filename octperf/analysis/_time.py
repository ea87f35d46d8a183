"""The load window of a run and the time axis every frame shares."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from octperf.store import RunDir


def load_window(run: RunDir) -> tuple[float | None, float | None]:
    """Start and end of the load window in Unix seconds; ``None`` where unknown.

    Read from the manifest's ``load`` section; a run that crashed before its
    load ended has a start but no end.
    """
    load = run.manifest().get("load") or {}
    return _seconds(load.get("started_at")), _seconds(load.get("ended_at"))


def time_origin(run: RunDir) -> float | None:
    """Where the time axis starts: the load start, else the run start."""
    start, _ = load_window(run)
    if start is not None:
        return start
    return _seconds(run.manifest().get("started_at"))


def with_time(frame: pd.DataFrame, origin: float | None) -> pd.DataFrame:
    """``frame`` sorted by ``ts`` with ``t`` (seconds since ``origin``) after it.

    Without an origin, ``t`` counts from the frame's first sample.
    """
    frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    if origin is None:
        origin = float(frame["ts"].min()) if len(frame) else 0.0
    frame.insert(frame.columns.get_loc("ts") + 1, "t", frame["ts"] - origin)
    return frame


def in_buckets(ts: pd.Series, start: float | None, end: float | None) -> pd.Series:
    """Which one-second buckets starting at ``ts`` overlap ``[start, end)``.

    A bucket partly inside the window counts: responses that ended in the
    load's first and last seconds belong to the load.
    """
    inside = pd.Series(True, index=ts.index)
    if start is not None:
        inside &= ts + 1 > start
    if end is not None:
        inside &= ts < end
    return inside


def overlapping(
    first: pd.Series, last: pd.Series, start: float | None, end: float | None
) -> pd.Series:
    """Which intervals ``(first, last]`` overlap the window ``[start, end]``.

    An unknown ``first`` (NaN: the interval began before anything was
    recorded) counts as early enough; an unknown window bound as open.
    """
    inside = pd.Series(True, index=last.index)
    if start is not None:
        inside &= last > start
    if end is not None:
        inside &= first.isna() | (first < end)
    return inside


def _seconds(value: object) -> float | None:
    """Unix seconds from a number or an ISO 8601 string; ``None`` if neither."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        # Python 3.10 reads no "Z" suffix; a time without a zone is UTC here.
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
