"""The table at the top of a report: what ran, how much, how fast, how well."""

from __future__ import annotations

import logging
import math
from typing import Any

import pandas as pd

from octperf.analysis._agent import agent_cpu_mean, has_amphora_agent
from octperf.analysis._frames import client_rate, connections, haproxy_rate
from octperf.analysis._gaps import events, gap_count
from octperf.analysis._hdr import latency_percentiles
from octperf.analysis._heartbeat import has_heartbeat, heartbeat_count
from octperf.analysis._time import in_buckets, load_window, overlapping
from octperf.errors import StoreError
from octperf.store import RunDir

log = logging.getLogger(__name__)

NO_DATA = "no data"
RELOAD = "haproxy_reload"


def summary_table(run: RunDir) -> pd.DataFrame:
    """One row per quantity (the index, e.g. ``latency p99 (ms)``), in ``value``.

    Totals are those the run wrote to summary.json; a run without one (it
    crashed) gets them from the tables over the load window instead.
    Latency percentiles cover the whole load window, from the merged
    histograms. Throughput is client requests over the load duration. Gaps
    (samples a collector failed) and HAProxy reloads count over the whole
    run. An amphora run adds the agent's mean CPU % over the load window
    and the heartbeats received over the whole run; other runs have no
    such rows. Unknown values read ``no data``.
    """
    manifest = run.manifest()
    counts = _counts(run)
    rows: dict[str, Any] = {
        "run": run.run_id,
        "status": manifest.get("status"),
        "testbed": manifest.get("testbed"),
        "duration (s)": _round(counts["duration"], 1),
        "client requests": counts["client"],
        "HAProxy requests (req_tot increase)": counts["haproxy"],
        "difference (%)": _round(counts["difference"], 2),
        "failures": counts["failures"],
        "throughput (req/s)": _round(_ratio(counts["client"], counts["duration"]), 1),
    }
    for name, value in latency_percentiles(run).items():
        rows[f"latency {name} (ms)"] = _round(value, 2)
    rows.update(_scur_peak(run))
    rows["gaps (failed samples)"] = gap_count(run)
    rows["HAProxy reloads"] = int((events(run)["kind"] == RELOAD).sum())
    rows.update(_amphora_rows(run))
    versions = manifest.get("versions") or {}
    for program in ("haproxy", "nginx", "locust"):
        rows[f"{program} version"] = versions.get(program)
    values = [NO_DATA if _unknown(v) else v for v in rows.values()]
    return pd.DataFrame({"value": values}, index=list(rows))


def _counts(run: RunDir) -> dict[str, Any]:
    """Duration and request counts: summary.json first, tables for the gaps.

    A value summary.json lacks or holds as null (an interrupted run writes
    ``"client": null``) comes from the tables.
    """
    recorded = _recorded(run)
    requests = recorded.get("requests") or {}
    counted = _counted(run)
    counts = {
        "duration": _known(recorded.get("duration_s"), counted["duration"]),
        "client": _known(
            (requests.get("client") or {}).get("total"), counted["client"]
        ),
        "haproxy": _known(
            (requests.get("haproxy") or {}).get("req_tot"), counted["haproxy"]
        ),
        "failures": _known(recorded.get("failures"), counted["failures"]),
    }
    difference = _ratio(_minus(counts["haproxy"], counts["client"]), counts["client"])
    counts["difference"] = _known(
        requests.get("difference_pct"), None if difference is None else difference * 100
    )
    return counts


def _counted(run: RunDir) -> dict[str, Any]:
    """Duration and request counts over the load window, from the tables."""
    start, end = load_window(run)
    client = client_rate(run)
    client = client[in_buckets(client["ts"], start, end)]
    haproxy = haproxy_rate(run)
    last = haproxy["ts"] + haproxy["interval_s"]
    overlaps = overlapping(haproxy["ts"], last, start, end)
    return {
        "duration": _minus(end, start),
        "client": _total(client["requests"]),
        "haproxy": _total(haproxy.loc[overlaps, "requests"]),
        "failures": _total(client["failures"]),
    }


def _scur_peak(run: RunDir) -> dict[str, Any]:
    """Highest frontend ``scur`` in the load window and that frontend's ``slim``."""
    start, end = load_window(run)
    frame = connections(run)
    inside = (frame["kind"] == "frontend") & frame["scur"].notna()
    if start is not None:
        inside &= frame["ts"] >= start
    if end is not None:
        inside &= frame["ts"] <= end
    frontends = frame[inside]
    if frontends.empty:
        return {"peak scur (frontend)": None, "slim (frontend)": None}
    peak = frontends.loc[frontends["scur"].idxmax()]
    return {
        "peak scur (frontend)": _integer(peak["scur"]),
        "slim (frontend)": _integer(peak["slim"]),
    }


def _amphora_rows(run: RunDir) -> dict[str, Any]:
    """The agent's and the heartbeat's rows, for runs whose bed had them."""
    rows: dict[str, Any] = {}
    if has_amphora_agent(run):
        rows["amphora agent CPU mean (%)"] = _round(agent_cpu_mean(run), 1)
    if has_heartbeat(run):
        rows["heartbeats received"] = heartbeat_count(run)
    return rows


def _recorded(run: RunDir) -> dict[str, Any]:
    if not (run.path / "summary.json").exists():
        return {}
    try:
        return run.summary()
    except StoreError as error:
        log.warning("%s; totals come from the tables instead", error)
        return {}


def _known(value: Any, fallback: Any) -> Any:
    """``value`` unless it is unknown (None, NaN), else ``fallback``."""
    return fallback if _unknown(value) else value


def _total(values: pd.Series) -> int | None:
    """Sum of known values; ``None`` when none is known."""
    known = values.dropna()
    return int(known.sum()) if len(known) else None


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _round(value: Any, digits: int) -> float | None:
    return None if _unknown(value) else round(float(value), digits)


def _integer(value: Any) -> int | None:
    return None if _unknown(value) else int(value)


def _unknown(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
