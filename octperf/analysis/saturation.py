"""A sweep's saturation in one call: the USL fit, the knee, headroom, Little.

The sweep report calls ``saturation`` on the per-step table
(``steps.sweep_steps``) and shows what it found; when the steps cannot carry
a fit (too few levels), the reason is kept instead of a fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from octperf.analysis._headroom import Headroom, highest_sustainable
from octperf.analysis._knee import Knee, find_knee
from octperf.analysis._little import littles_law
from octperf.analysis.usl import UslFit, fit_usl
from octperf.errors import AnalysisError


@dataclass(frozen=True)
class Saturation:
    """What the steps say about where the amphora bends and how far it goes."""

    fit: UslFit | None
    knee: Knee | None
    headroom: Headroom | None
    little: pd.DataFrame
    problems: tuple[str, ...]

    def curve(self, points: int = 200) -> pd.DataFrame:
        """Fitted throughput and its 95 % band, one user to twice the largest step."""
        if self.fit is None:
            return pd.DataFrame(columns=["users", "throughput", "low", "high"])
        users = np.linspace(1, 2 * max(self.fit.concurrency), points)
        low, high = self.fit.band(users)
        return pd.DataFrame(
            {
                "users": users,
                "throughput": self.fit.curve(users),
                "low": low,
                "high": high,
            }
        )

    def residuals(self) -> pd.DataFrame:
        """Measured minus fitted throughput per step, absolute and relative."""
        if self.fit is None:
            return pd.DataFrame(columns=["users", "residual", "relative"])
        users = np.asarray(self.fit.concurrency)
        measured = np.asarray(self.fit.throughput)
        fitted = self.fit.curve(users)
        return pd.DataFrame(
            {
                "users": users,
                "residual": measured - fitted,
                "relative": (measured - fitted) / fitted,
            }
        )

    def headline(self) -> str:
        """The headroom answer in one sentence, for the top of the report."""
        if self.headroom is None:
            return "No headroom answer: " + "; ".join(self.problems)
        return self.headroom.sentence()

    def to_dict(self) -> dict[str, Any]:
        """The fit, the knee and the headroom as JSON-ready values.

        Written as a sweep's ``analysis.json``; format history: 1, the first.
        """
        return {
            "format_version": 1,
            "fit": self.fit.to_dict() if self.fit else None,
            "knee": self.knee.to_dict() if self.knee else None,
            "headroom": self.headroom.to_dict() if self.headroom else None,
            "problems": list(self.problems),
        }

    def table(self) -> pd.DataFrame:
        """The findings as rows of (quantity, value) for the report."""
        rows: list[tuple[str, Any]] = [("problem", p) for p in self.problems]
        if self.fit is not None:
            rows += _fit_rows(self.fit)
        if self.knee is not None and self.knee.n is not None:
            rows.append(("knee (efficiency 0.5): users", round(self.knee.n, 1)))
            rows.append(("Kneedle's knee: users", self.knee.kneedle_n))
            rows.append(("knees agree", self.knee.agree))
        if self.headroom is not None:
            rows.append(("highest sustainable", self.headroom.sentence()))
        return pd.DataFrame(rows, columns=["quantity", "value"]).set_index("quantity")


def saturation(
    steps: pd.DataFrame,
    latency_percentile: str = "p99",
    latency_ms: float = 100.0,
    failure_budget: float = 0.01,
    think_time_s: float = 0.0,
) -> Saturation:
    """Fit, knee, headroom and Little's law over a sweep's steps.

    Each part that the steps cannot carry leaves None and a line in
    ``problems`` saying why; nothing here raises for too few steps.
    """
    problems: list[str] = []
    fit = _attempt(
        problems,
        lambda: fit_usl(steps["users"], steps["throughput"], weights="relative"),
    )
    knee = _attempt(problems, lambda: find_knee(fit)) if fit is not None else None
    headroom = _attempt(
        problems,
        lambda: highest_sustainable(
            steps, latency_ms, latency_percentile, failure_budget
        ),
    )
    little = _attempt(problems, lambda: littles_law(steps, think_time_s))
    little = little if little is not None else pd.DataFrame()
    return Saturation(fit, knee, headroom, little, tuple(problems))


def _attempt(problems: list[str], compute):
    try:
        return compute()
    except (AnalysisError, KeyError) as error:
        problems.append(str(error))
        return None


def _fit_rows(fit: UslFit) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("lambda (req/s per user)", _with_error(fit.lambda_)),
        ("sigma (contention)", _with_error(fit.sigma)),
        ("kappa (coherency)", _with_error(fit.kappa)),
        ("R²", round(fit.r_squared, 4)),
    ]
    if fit.peak is not None:
        rows.append(("peak N* (continuous)", round(fit.peak.n, 1)))
        rows.append(("X(N*) req/s", round(fit.peak.x, 1)))
    if fit.amdahl_limit is not None:
        rows.append(("Amdahl limit lambda/sigma, req/s", round(fit.amdahl_limit, 1)))
    rows += [("warning", w) for w in fit.warnings]
    return rows


def _with_error(coefficient) -> str:
    return f"{coefficient.value:.4g} ± {coefficient.stderr:.2g}"
