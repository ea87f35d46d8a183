"""The USL fit recovers known coefficients from noisy synthetic sweeps.

Each draw picks lambda, sigma and kappa, measures 16 concurrency levels from
1 to three times the peak (rounded to whole users, so a few may merge), and
adds 3 % noise. A correct fit misses each true coefficient by an amount
that, divided by its standard error, follows Student's t with about 13
degrees of freedom. The tests allow 6 standard errors: t(13) passes 6 with
probability 5e-5, so 200 draws of three coefficients would trip a correct
fit with odds of about 3 %, while a fit whose errors are too small by half
(or biased by a few standard errors) fails at once. Hypothesis is
derandomized, so the draws are the same on every run and nothing flakes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from octperf.analysis.usl import fit_usl

WITHIN = 6
"""Standard errors each coefficient may miss by (see above)."""

NOISE = 0.03
"""Noise as a fraction of the throughput (lognormal) or of its peak (normal)."""

lambdas = st.floats(1.0, 5000.0)
sigmas = st.floats(0.005, 0.2)
kappas = st.floats(-5.0, -3.0).map(lambda exponent: 10.0**exponent)
seeds = st.integers(0, 2**32 - 1)


def sweep(lambda_: float, sigma: float, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    """Concurrency levels up to three times the peak, and the exact throughput."""
    peak = np.sqrt((1 - sigma) / kappa)
    n = np.unique(np.round(np.geomspace(1, 3 * peak, 16)))
    return n, lambda_ * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def assert_recovered(fit, lambda_: float, sigma: float, kappa: float) -> None:
    for coefficient, truth in (
        (fit.lambda_, lambda_),
        (fit.sigma, sigma),
        (fit.kappa, kappa),
    ):
        assert abs(coefficient.value - truth) <= WITHIN * coefficient.stderr


@settings(deadline=None, max_examples=200, derandomize=True)
@given(lambda_=lambdas, sigma=sigmas, kappa=kappas, seed=seeds)
def test_relative_fit_recovers_coefficients_under_multiplicative_noise(
    lambda_, sigma, kappa, seed
):
    """3 % lognormal noise: relative weights recover lambda, sigma, kappa."""
    n, x = sweep(lambda_, sigma, kappa)
    noisy = x * np.random.default_rng(seed).lognormal(0, NOISE, len(n))
    assert_recovered(fit_usl(n, noisy, weights="relative"), lambda_, sigma, kappa)


@settings(deadline=None, max_examples=200, derandomize=True)
@given(lambda_=lambdas, sigma=sigmas, kappa=kappas, seed=seeds)
def test_equal_fit_recovers_coefficients_under_additive_noise(
    lambda_, sigma, kappa, seed
):
    """Normal noise of 3 % of the peak: equal weights recover all three."""
    n, x = sweep(lambda_, sigma, kappa)
    noise = np.random.default_rng(seed).normal(0, NOISE * x.max(), len(n))
    assert_recovered(fit_usl(n, np.abs(x + noise)), lambda_, sigma, kappa)
