"""Per-step aggregates of a sweep, each over the step's steady-state window.

The steady-state window of a run, in whole Locust seconds:

1. start after the ramp-up: the load's start plus ``users / spawn_rate``
   seconds plus one, and end one second before the load's end (users stop
   mid-second and the last bucket is partial);
2. then trim, from either end, seconds whose request count is below
   ``TRIM_FRACTION`` of the window's median: a ramp that took longer than
   planned, or a slow stop.

When fewer than ``MIN_WINDOW_S`` seconds remain, the whole load window is
used and the method says so. Throughput's 95 % confidence interval comes
from batch means (batches of ``BATCH_S`` seconds, Student's t) when there
are at least five batches, else from the per-second counts; the method is
stored with the row. Per-second counts are autocorrelated, so the
per-second interval is narrower than the truth: read it as a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from octperf.analysis._frames import client_rate, cpu_by_role
from octperf.analysis._hdr import latency_percentiles, merged_histogram
from octperf.analysis._time import load_window
from octperf.store import RunDir, open_run

TRIM_FRACTION = 0.8
MIN_WINDOW_S = 3
BATCH_S = 5


@dataclass(frozen=True)
class Window:
    """A steady-state window: [start, end) in Unix seconds, and how it was found."""

    start: float
    end: float
    method: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


def steady_window(run: RunDir) -> Window | None:
    """The steady-state window of ``run`` (see the module), or None without data."""
    counts = _per_second(run)
    if counts.empty:
        return None
    profile = run.manifest().get("profile", {}).get("load", {})
    ramp = profile.get("users", 0) / max(profile.get("spawn_rate", 1) or 1, 1e-9)
    first, last = counts.index.min(), counts.index.max()
    planned = counts.loc[first + math.ceil(ramp) + 1 : last - 1]
    trimmed = _trim(planned)
    if len(trimmed) >= MIN_WINDOW_S:
        how = (
            f"after {ramp:.1f} s ramp-up + 1 s, last second dropped, slow edges trimmed"
        )
        return Window(float(trimmed.index.min()), float(trimmed.index.max() + 1), how)
    return Window(float(first), float(last + 1), "whole load: too short to trim")


def step_summary(run: RunDir) -> dict[str, Any]:
    """Throughput, latency, failures and CPU per role over the steady window."""
    window = steady_window(run)
    manifest = run.manifest()
    load = manifest.get("profile", {}).get("load", {})
    row: dict[str, Any] = {"run_id": run.run_id, "users": load.get("users")}
    if window is None:
        return row
    counts = _per_second(run).loc[window.start : window.end - 1]
    row |= _throughput(counts)
    row |= _latency(run, window)
    row |= _cpu(run, window)
    row |= {
        "window_start": window.start,
        "window_s": window.seconds,
        "window_method": window.method,
    }
    return row


def sweep_steps(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per completed step of a sweep: its fields, then its aggregates."""
    from octperf.sweep import read_state

    rows = []
    for step in read_state(Path(sweep_dir))["steps"]:
        if step["status"] != "complete":
            continue
        summary = step_summary(open_run(step["run_dir"]))
        rows.append({"step": step["index"], **step["params"], **summary})
    return pd.DataFrame(rows)


def _per_second(run: RunDir) -> pd.DataFrame:
    frame = client_rate(run)
    if frame.empty:
        return pd.DataFrame(columns=["requests", "failures"])
    start, end = load_window(run)
    if start is not None and end is not None:
        frame = frame[(frame["ts"] + 1 > start) & (frame["ts"] < end)]
    grouped = frame.groupby(frame["ts"].astype(int))[["requests", "failures"]].sum()
    return grouped.sort_index()


def _trim(counts: pd.DataFrame) -> pd.DataFrame:
    if counts.empty:
        return counts
    floor = TRIM_FRACTION * counts["requests"].median()
    keep = counts["requests"] >= floor
    if not keep.any():
        return counts.iloc[0:0]
    first, last = keep.idxmax(), keep[::-1].idxmax()
    return counts.loc[first:last]


def _throughput(counts: pd.DataFrame) -> dict[str, Any]:
    per_second = counts["requests"].to_numpy(dtype=float)
    batches = len(per_second) // BATCH_S
    if batches >= 5:
        samples = per_second[: batches * BATCH_S].reshape(batches, BATCH_S).mean(1)
        method = f"batch means, {BATCH_S} s batches"
    else:
        samples, method = per_second, "per-second counts (autocorrelated)"
    low, high = _t_interval(samples)
    total = counts["requests"].sum()
    return {
        "throughput": float(per_second.mean()),
        "throughput_ci_low": low,
        "throughput_ci_high": high,
        "ci_method": method,
        "requests": int(total),
        "failure_rate": float(counts["failures"].sum() / total) if total else math.nan,
    }


def _t_interval(samples: np.ndarray) -> tuple[float, float]:
    if len(samples) < 2:
        return math.nan, math.nan
    mean, error = samples.mean(), stats.sem(samples)
    half = float(stats.t.ppf(0.975, len(samples) - 1) * error)
    return float(mean - half), float(mean + half)


def _latency(run: RunDir, window: Window) -> dict[str, Any]:
    percentiles = latency_percentiles(run, window.start, window.end)
    histogram = merged_histogram(run, window.start, window.end)
    mean = histogram.get_mean_value() / 1000 if histogram is not None else math.nan
    named = {f"latency_{k.replace('.', '')}_ms": v for k, v in percentiles.items()}
    return named | {"latency_mean_ms": mean}


def _cpu(run: RunDir, window: Window) -> dict[str, Any]:
    cpu = cpu_by_role(run)
    if cpu.empty:
        return {}
    inside = cpu[(cpu["ts"] >= window.start) & (cpu["ts"] < window.end)]
    roles = inside.assign(role=inside["role"].str.replace(r"-\d+$", "", regex=True))
    per_sample = roles.groupby(["ts", "role"])["cpu_percent"].sum()
    means = per_sample.groupby("role").mean()
    return {f"cpu_{role}_percent": float(value) for role, value in means.items()}
