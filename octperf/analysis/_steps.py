"""The per-step table of a sweep: one row per load step, one column per measure.

Columns the analysis reads: ``users`` (Locust users of the step),
``throughput`` (requests per second over the step's steady window),
``latency_<pNN>_ms`` (e.g. ``latency_p99_ms``, from the merged histograms),
``latency_mean_ms``, and ``failure_rate`` (failed over all requests, a
fraction, not a percentage).
"""

from __future__ import annotations

import pandas as pd

from octperf.errors import AnalysisError


def require(steps: pd.DataFrame, columns: list[str], purpose: str) -> pd.DataFrame:
    """``steps`` sorted by users, or AnalysisError naming the missing columns."""
    missing = [column for column in columns if column not in steps.columns]
    if missing:
        raise AnalysisError(
            f"{purpose}: the steps lack {', '.join(missing)} "
            f"(they have {', '.join(map(str, steps.columns)) or 'no columns'})"
        )
    if steps.empty:
        raise AnalysisError(f"{purpose}: no steps")
    return steps.sort_values("users", kind="stable")
