"""The USL fit: a published data set, refusals, warnings and conventions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from octperf.analysis.usl import fit_usl, read_points
from octperf.errors import AnalysisError

SPECSDM91 = Path(__file__).parent / "data" / "specsdm91.csv"

# R package usl (Stefan Moeding), README: summary(usl(throughput ~ load, specsdm91)).
PUBLISHED = {
    "lambda_": (89.9952330, 14.2134894),
    "sigma": (0.0277285, 0.0091217),
    "kappa": (0.0001044, 0.0000199),
}

GRID = [1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256]


def usl(n, lambda_: float, sigma: float, kappa: float) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    return lambda_ * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


@pytest.fixture(scope="module")
def specsdm91():
    return fit_usl(*read_points(SPECSDM91))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_specsdm91_reproduces_the_published_coefficients(specsdm91, name):
    """SPEC SDM91 (Gunther, Guerrilla Capacity Planning; R package usl): within 1 %."""
    value, stderr = PUBLISHED[name]
    coefficient = getattr(specsdm91, name)
    assert coefficient.value == pytest.approx(value, rel=0.01)
    assert coefficient.stderr == pytest.approx(stderr, rel=0.01)


def test_specsdm91_reproduces_the_published_peak_and_r_squared(specsdm91):
    """R package usl's README: R² 0.9896, peak 1884 at load 96.52."""
    assert specsdm91.r_squared == pytest.approx(0.9896, abs=1e-4)
    assert specsdm91.peak is not None
    assert specsdm91.peak.n == pytest.approx(96.52, rel=0.01)
    assert specsdm91.peak.x == pytest.approx(1884, rel=0.01)
    assert specsdm91.peak.n_floor == 96
    assert specsdm91.peak.x_floor == pytest.approx(float(specsdm91.curve(96)))
    assert specsdm91.amdahl_limit is None
    assert specsdm91.warnings == ()


def test_peak_is_the_maximum_of_the_fitted_curve(specsdm91):
    """N* = sqrt((1 - sigma)/kappa) beats its neighbours on the fitted curve."""
    peak = specsdm91.peak
    around = specsdm91.curve([peak.n - 1, peak.n + 1])
    assert (around < peak.x).all()
    assert specsdm91.curve(peak.n_floor + 1) <= peak.x


@pytest.mark.parametrize(
    ("levels", "points"), [([1, 2, 4], 3), ([1, 1, 2, 2, 4, 4], 6)]
)
def test_fewer_than_four_levels_are_refused(levels, points):
    """Three coefficients need four distinct concurrency levels, replicates or not."""
    assert len(levels) == points
    with pytest.raises(AnalysisError, match="needs at least 4"):
        fit_usl(levels, usl(levels, 100, 0.05, 0.001))


def test_fewer_than_six_levels_fit_with_a_warning():
    """Five levels give a fit and a warning that names the count."""
    n = [1, 2, 4, 8, 16]
    fit = fit_usl(n, usl(n, 100, 0.05, 0.001))
    assert any("only 5 distinct" in warning for warning in fit.warnings)
    assert fit.sigma.value == pytest.approx(0.05, rel=1e-6)


def test_six_levels_fit_without_a_warning():
    """From six levels on, exact data give a clean fit."""
    n = [1, 2, 4, 8, 16, 32]
    assert fit_usl(n, usl(n, 100, 0.05, 0.001)).warnings == ()


@pytest.mark.parametrize(
    ("n", "x", "message"),
    [
        ([1, 2, 4, 8], [1, 2, 3], "4 concurrency values but 3"),
        ([1, 2, 4, math.nan], [1, 2, 3, 4], "NaN"),
        ([0, 2, 4, 8], [1, 2, 3, 4], "positive"),
        ([1, 2, 4, 8], [0, 0, 0, 0], "not all zero"),
        ([1, 2, 4, 8], ["a", 2, 3, 4], "not numbers"),
    ],
)
def test_bad_points_are_refused_with_a_reason(n, x, message):
    """Each refusal says what is wrong with the points."""
    with pytest.raises(AnalysisError, match=message):
        fit_usl(n, x)


def test_predictions_past_twice_the_measured_range_are_extrapolations(specsdm91):
    """Measured 1..216: 0.5 and 432 are inside, 0.49 and 433 are not."""
    assert not specsdm91.predict(0.5).extrapolation
    assert not specsdm91.predict(432).extrapolation
    assert specsdm91.predict(0.49).extrapolation
    prediction = specsdm91.predict(433)
    assert prediction.extrapolation
    assert prediction.x == pytest.approx(float(specsdm91.curve(433)))


def test_a_peak_far_past_the_data_is_flagged():
    """Measured up to 32 with N* near 99: the peak is an extrapolation."""
    n = [1, 2, 4, 8, 12, 16, 24, 32]
    fit = fit_usl(n, usl(n, 100, 0.02, 1e-4))
    assert fit.peak is not None
    assert fit.peak.n == pytest.approx(math.sqrt(0.98 / 1e-4), rel=1e-4)
    assert any("extrapolation" in warning for warning in fit.warnings)


def test_no_coherency_gives_amdahls_limit_instead_of_a_peak():
    """kappa = 0: no peak; the limit is lambda/sigma = 100/0.05."""
    fit = fit_usl(GRID, usl(GRID, 100, 0.05, 0))
    assert fit.peak is None
    assert fit.amdahl_limit == pytest.approx(2000, rel=1e-6)
    assert "Amdahl's limit" in fit.summary()


def test_a_kappa_whose_interval_includes_zero_gives_amdahls_limit():
    """A small kappa lost in 3 % noise is not taken for a peak."""
    rng = np.random.default_rng(7)
    x = usl(GRID[:8], 100, 0.05, 1e-6) * rng.lognormal(0, 0.03, 8)
    fit = fit_usl(GRID[:8], x)
    assert fit.kappa.low <= 0
    assert fit.peak is None
    assert fit.amdahl_limit == pytest.approx(fit.lambda_.value / fit.sigma.value)


def test_linear_scaling_has_neither_peak_nor_limit():
    """sigma = kappa = 0 is said in a warning."""
    fit = fit_usl(GRID, [10.0 * n for n in GRID])
    assert fit.peak is None and fit.amdahl_limit is None
    assert any("linearly" in warning for warning in fit.warnings)


def test_relative_weights_agree_with_equal_weights_on_exact_data():
    """Both weightings find the true coefficients when there is no noise."""
    fit = fit_usl(GRID, usl(GRID, 50, 0.03, 2e-4), weights="relative")
    assert fit.lambda_.value == pytest.approx(50, rel=1e-6)
    assert fit.sigma.value == pytest.approx(0.03, rel=1e-6)
    assert fit.kappa.value == pytest.approx(2e-4, rel=1e-6)
    assert fit.to_dict()["weights"] == "relative"


def test_relative_weights_refuse_zero_throughput():
    """A relative residual of a zero throughput is undefined."""
    with pytest.raises(AnalysisError, match="above 0"):
        fit_usl([1, 2, 4, 8, 16], [0, 2, 4, 7, 9], weights="relative")


def test_the_band_contains_the_curve_and_widens_past_the_data(specsdm91):
    """95 % band: below and above the curve, wider at 400 than at 72."""
    low, high = specsdm91.band([72, 400])
    middle = specsdm91.curve([72, 400])
    assert (low < middle).all() and (middle < high).all()
    assert high[1] - low[1] > high[0] - low[0]


def test_to_dict_is_strict_json(specsdm91):
    """No NaN or infinity reaches JSON; the peak and coefficients are there."""
    data = json.loads(json.dumps(specsdm91.to_dict(), allow_nan=False))
    assert data["peak"]["n_floor"] == 96
    assert data["kappa"]["value"] == pytest.approx(1.044e-4, rel=0.01)
    assert data["points"] == 7 and data["degrees_of_freedom"] == 4
    assert data["warnings"] == []


def test_the_fit_is_frozen(specsdm91):
    """A result cannot be changed after the fact."""
    with pytest.raises(AttributeError):
        specsdm91.r_squared = 1.0


def test_read_points_skips_comments_and_a_header():
    """The published data file reads as seven points."""
    n, x = read_points(SPECSDM91)
    assert n == [1, 18, 36, 72, 108, 144, 216]
    assert x[0] == 64.9 and x[-1] == 1702.2


def test_read_points_takes_a_file_without_header(tmp_path):
    """A header is optional; spaces around the cells are ignored."""
    path = tmp_path / "points.csv"
    path.write_text("1, 10\n2, 19.5\n\n4 ,37\n")
    assert read_points(path) == ([1.0, 2.0, 4.0], [10.0, 19.5, 37.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n,x,extra\n1,2,3\n", "line 2: 3 columns"),
        ("n,x\n1,2\n2,fast\n", "line 3: 'fast' is not a number"),
        ("1,2\n2,nan\n", "line 2: 'nan' is not a finite number"),
        ("# only a comment\n", "no data rows"),
    ],
)
def test_read_points_refuses_bad_rows_with_their_line(tmp_path, text, message):
    """The message names the file and the line."""
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(AnalysisError, match=message):
        read_points(path)


def test_read_points_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(AnalysisError, match="no such file"):
        read_points(tmp_path / "missing.csv")
