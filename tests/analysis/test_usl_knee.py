"""The knee of a USL fit, and Kneedle's cross-check on the measured points."""

from __future__ import annotations

import numpy as np
import pytest

from octperf.analysis._knee import find_knee, knee_concurrency
from octperf.analysis.usl import fit_usl
from octperf.errors import AnalysisError
from tests.analysis.test_usl import GRID, usl


@pytest.mark.parametrize(
    ("sigma", "kappa", "efficiency"),
    [(0.05, 0.0, 0.5), (0.02, 1e-4, 0.5), (0.1, 1e-3, 0.8), (0.0, 1e-4, 0.5)],
)
def test_the_fitted_knee_is_where_efficiency_reaches_the_fraction(
    sigma, kappa, efficiency
):
    """X(N) / (lambda N) at the returned N is the fraction asked for."""
    n = knee_concurrency(sigma, kappa, efficiency)
    assert 1 / (1 + sigma * (n - 1) + kappa * n * (n - 1)) == pytest.approx(efficiency)


def test_without_coherency_the_knee_is_one_plus_one_over_sigma():
    """kappa = 0, half efficiency: 1 + sigma (N - 1) = 2, so N = 1 + 1/sigma."""
    assert knee_concurrency(0.05, 0.0, 0.5) == pytest.approx(21)


def test_a_clear_knee_is_found_by_both_and_they_agree():
    """sigma 0.01, kappa 1e-5: the fit bends at 92.5 users, Kneedle picks 96."""
    fit = fit_usl(GRID, usl(GRID, 100, 0.01, 1e-5))
    knee = find_knee(fit)
    assert knee.n == pytest.approx(knee_concurrency(0.01, 1e-5, 0.5), rel=1e-6)
    assert knee.n == pytest.approx(92.53, abs=0.01)
    assert knee.x == pytest.approx(float(usl(knee.n, 100, 0.01, 1e-5)), rel=1e-6)
    assert knee.kneedle_n == 96
    assert knee.agree is True


def test_a_knee_between_other_steps_is_reported_as_disagreement():
    """Amdahl's curve sampled 1..40: Kneedle says 15, the fit 21."""
    n = np.arange(1, 41)
    knee = find_knee(fit_usl(n, usl(n, 100, 0.05, 0)))
    assert knee.n == pytest.approx(21)
    assert knee.kneedle_n == 15
    assert knee.agree is False


def test_linear_scaling_has_no_knee():
    """sigma = kappa = 0: efficiency stays 1, and Kneedle sees a straight line."""
    knee = find_knee(fit_usl(GRID, [3.0 * n for n in GRID]))
    assert knee.n is None and knee.x is None
    assert knee.kneedle_n is None
    assert knee.agree is None


@pytest.mark.parametrize("efficiency", [0.0, 1.0, 1.5])
def test_an_efficiency_outside_zero_and_one_is_refused(efficiency):
    fit = fit_usl(GRID, usl(GRID, 100, 0.01, 1e-5))
    with pytest.raises(AnalysisError, match="not in"):
        find_knee(fit, efficiency)
