"""The knee of a throughput curve: from the USL fit, checked by Kneedle.

The fitted knee is where the curve's efficiency X(N) / (lambda * N), the
share of linear scaling still achieved, falls to a stated fraction: one
half by default, where the time lost to contention and coherency equals the
useful work. It is a property of the fitted coefficients alone, so it does
not move with the units of either axis or with the range the steps happened
to cover, which maximum curvature (of the raw curve) does. With kappa = 0 it
is 1 + 1/sigma, next to 1/sigma where the line of linear scaling meets
Amdahl's limit.

Kneedle (Satopaa et al., 2011, the ``kneed`` package) finds the knee of the
measured points without any model; when the two agree the knee is a property
of the data, not of the model.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from kneed import KneeLocator

from octperf.analysis.usl import UslFit
from octperf.errors import AnalysisError

KNEE_EFFICIENCY = 0.5
"""Default efficiency X(N) / (lambda * N) at which the fitted curve has its knee."""


@dataclass(frozen=True)
class Knee:
    """The fitted knee and Kneedle's, and whether they agree.

    ``n`` and ``x`` are the concurrency (continuous) and fitted throughput
    where the efficiency falls to ``efficiency``; ``None`` when it never
    does (sigma = kappa = 0). ``kneedle_n`` and ``kneedle_x`` are the
    measured point Kneedle picks (mean throughput of replicates), ``None``
    when it finds none. They agree when the fitted knee lies between the
    measured levels either side of Kneedle's, the finest Kneedle resolves;
    ``agree`` is ``None`` when either knee is missing.
    """

    efficiency: float
    n: float | None
    x: float | None
    kneedle_n: float | None
    kneedle_x: float | None
    agree: bool | None

    def to_dict(self) -> dict[str, Any]:
        """The fields under their names, ready for JSON."""
        return {
            "efficiency": self.efficiency,
            "n": self.n,
            "x": self.x,
            "kneedle_n": self.kneedle_n,
            "kneedle_x": self.kneedle_x,
            "agree": self.agree,
        }


def find_knee(fit: UslFit, efficiency: float = KNEE_EFFICIENCY) -> Knee:
    """The knee of a USL fit, cross-checked by Kneedle on its measured points.

    ``efficiency`` is a fraction in (0, 1); AnalysisError otherwise.
    """
    if not 0 < efficiency < 1:
        raise AnalysisError(f"knee: efficiency {efficiency} is not in (0, 1)")
    n = knee_concurrency(fit.sigma.value, fit.kappa.value, efficiency)
    x = None if n is None else float(fit.curve(n))
    levels, means = _levels(fit)
    found = _kneedle(levels, means)
    kneedle_n, kneedle_x = found if found is not None else (None, None)
    agree = None
    if n is not None and kneedle_n is not None:
        low, high = _neighbours(levels, kneedle_n)
        agree = low <= n <= high
    return Knee(efficiency, n, x, kneedle_n, kneedle_x, agree)


def knee_concurrency(sigma: float, kappa: float, efficiency: float) -> float | None:
    """The N where 1 / (1 + sigma (N - 1) + kappa N (N - 1)) equals ``efficiency``.

    The positive root of kappa N^2 + (sigma - kappa) N - (sigma + r) = 0,
    r = 1/efficiency - 1, in the form that stays exact as kappa goes to 0;
    ``None`` when sigma = kappa = 0 (the efficiency stays 1).
    """
    r = 1 / efficiency - 1
    b = sigma - kappa
    denominator = b + math.sqrt(b * b + 4 * kappa * (sigma + r))
    if denominator <= 0:
        return None
    return 2 * (sigma + r) / denominator


def _levels(fit: UslFit) -> tuple[np.ndarray, np.ndarray]:
    """Distinct concurrency levels, ascending, with their mean throughput."""
    n = np.asarray(fit.concurrency)
    x = np.asarray(fit.throughput)
    levels = np.unique(n)
    means = np.array([x[n == level].mean() for level in levels])
    return levels, means


def _kneedle(levels: np.ndarray, means: np.ndarray) -> tuple[float, float] | None:
    """Kneedle's knee of a concave, increasing curve, or ``None``."""
    if np.ptp(means) == 0:
        return None  # a flat line has no knee, and Kneedle would divide by 0
    with warnings.catch_warnings():
        # kneed warns when it finds no knee; None says so already.
        warnings.simplefilter("ignore", UserWarning)
        locator = KneeLocator(
            levels, means, S=1.0, curve="concave", direction="increasing"
        )
    if locator.knee is None:
        return None
    return float(locator.knee), float(locator.knee_y)


def _neighbours(levels: np.ndarray, level: float) -> tuple[float, float]:
    """The measured levels just below and above ``level`` (itself at an end)."""
    index = int(np.searchsorted(levels, level))
    low = levels[max(index - 1, 0)]
    high = levels[min(index + 1, len(levels) - 1)]
    return float(low), float(high)
