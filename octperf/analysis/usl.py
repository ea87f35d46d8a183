"""The Universal Scalability Law fitted to throughput against concurrency.

Neil Gunther's model of how throughput X grows with concurrency N (users,
connections, workers)::

    X(N) = lambda * N / (1 + sigma * (N - 1) + kappa * N * (N - 1))

lambda is the throughput of one unit of concurrency alone (X(1) = lambda,
in the unit of X per unit of N); sigma the contention (the serial fraction
of Amdahl's law); kappa the coherency cost (crosstalk between the units,
which makes throughput fall past a peak). sigma and kappa are fractions in
[0, 1].

The fit is bounded non-linear least squares on the measured points, with
standard errors from the covariance scaled by the residual variance (as R's
``nls`` does) and 95 % intervals from Student's t on n - 3 degrees of
freedom. When kappa's interval excludes 0 the fit has a peak at
N* = sqrt((1 - sigma) / kappa); when it includes 0 the curve cannot be told
from Amdahl's law and the fit reports Amdahl's limit lambda / sigma instead.
See docs/usl.md.
"""

from __future__ import annotations

import csv
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from scipy.optimize import OptimizeWarning, curve_fit, nnls

from octperf.errors import AnalysisError

log = logging.getLogger(__name__)

MIN_LEVELS = 4
"""Distinct concurrency levels below which a fit is refused (3 coefficients)."""

FEW_LEVELS = 6
"""Distinct concurrency levels below which the fit carries a warning."""

EXTRAPOLATION_FACTOR = 2.0
"""A prediction past this times the largest N (or under the smallest N over it)."""

LEVEL = 0.95
"""Confidence level of every interval a fit reports."""

DUST = 1e-9
"""A share of the USL denominator too small to be anything but rounding."""

Floats = NDArray[np.float64]

Weights = Literal["equal", "relative"]
"""How the residuals count: as measured, or relative to the throughput."""


@dataclass(frozen=True)
class Coefficient:
    """One fitted coefficient with its standard error and 95 % interval.

    The error and bounds are NaN when the data do not constrain the
    coefficient (a singular covariance).
    """

    value: float
    stderr: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | None]:
        """The four numbers, NaN as ``None`` so that the result is valid JSON."""
        return {
            "value": _finite(self.value),
            "stderr": _finite(self.stderr),
            "low": _finite(self.low),
            "high": _finite(self.high),
        }


@dataclass(frozen=True)
class Peak:
    """Where the fitted throughput is highest, and how high.

    ``n`` is the continuous N* = sqrt((1 - sigma) / kappa), at least 1;
    ``n_floor`` is the whole concurrency floor(N*), at least 1, that one can
    actually configure, with its throughput ``x_floor``.
    """

    n: float
    x: float
    n_floor: int
    x_floor: float

    def to_dict(self) -> dict[str, float | int]:
        """The four numbers under their field names."""
        return {
            "n": self.n,
            "x": self.x,
            "n_floor": self.n_floor,
            "x_floor": self.x_floor,
        }


@dataclass(frozen=True)
class Prediction:
    """The fitted throughput at one concurrency.

    ``extrapolation`` is true past twice the largest measured N or under
    half the smallest: the model says something there, the data do not.
    """

    n: float
    x: float
    extrapolation: bool


@dataclass(frozen=True)
class UslFit:
    """A USL fit: coefficients, goodness, peak or limit, and warnings.

    ``concurrency`` and ``throughput`` are the measured points in the order
    given. ``r_squared`` is 1 - SS_res / SS_tot of the unweighted residuals
    whatever the weights. Exactly one of ``peak`` and ``amdahl_limit``
    (lambda / sigma, the throughput approached as N grows) is set, except
    when sigma and kappa are both 0 (linear scaling), where neither is.
    ``warnings`` are sentences about the data or the fit a reader should
    see.
    """

    lambda_: Coefficient
    sigma: Coefficient
    kappa: Coefficient
    r_squared: float
    concurrency: tuple[float, ...]
    throughput: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...] = field(repr=False)
    peak: Peak | None
    amdahl_limit: float | None
    warnings: tuple[str, ...]
    weights: Weights = "equal"

    @property
    def degrees_of_freedom(self) -> int:
        """Points less the three coefficients."""
        return len(self.concurrency) - 3

    def curve(self, n: ArrayLike) -> Floats:
        """The fitted throughput at each concurrency in ``n``, unlabelled."""
        return _model(np.asarray(n, dtype=float), *self._values())

    def predict(self, n: float) -> Prediction:
        """The fitted throughput at ``n``, labelled when it is an extrapolation."""
        return Prediction(n, float(self.curve(n)), self.is_extrapolation(n))

    def is_extrapolation(self, n: float) -> bool:
        """Whether ``n`` lies below half the smallest N or past twice the largest."""
        low = min(self.concurrency) / EXTRAPOLATION_FACTOR
        high = max(self.concurrency) * EXTRAPOLATION_FACTOR
        return not low <= n <= high

    def band(self, n: ArrayLike) -> tuple[Floats, Floats]:
        """Lower and upper 95 % confidence bounds of the curve at each ``n``.

        From the covariance by the delta method; NaN when it is singular.
        """
        n = np.asarray(n, dtype=float)
        gradient = _gradient(n, *self._values())
        variance = np.einsum(
            "i...,ij,j...->...", gradient, self._covariance(), gradient
        )
        half = _t_quantile(self.degrees_of_freedom) * np.sqrt(variance)
        middle = self.curve(n)
        return middle - half, middle + half

    def summary(self) -> str:
        """The fit as lines of text, as the ``octperf usl`` command prints it."""
        return "\n".join(_summary_lines(self))

    def to_dict(self) -> dict[str, Any]:
        """Everything in the fit as JSON-ready values (NaN and infinity as null)."""
        return {
            "model": "usl",
            "formula": "X(N) = lambda*N / (1 + sigma*(N-1) + kappa*N*(N-1))",
            "level": LEVEL,
            "points": len(self.concurrency),
            "concurrency": list(self.concurrency),
            "throughput": list(self.throughput),
            "lambda": self.lambda_.to_dict(),
            "sigma": self.sigma.to_dict(),
            "kappa": self.kappa.to_dict(),
            "r_squared": _finite(self.r_squared),
            "degrees_of_freedom": self.degrees_of_freedom,
            "covariance": [[_finite(v) for v in row] for row in self.covariance],
            "peak": None if self.peak is None else self.peak.to_dict(),
            "amdahl_limit": _finite(self.amdahl_limit),
            "warnings": list(self.warnings),
            "weights": self.weights,
        }

    def _values(self) -> tuple[float, float, float]:
        return self.lambda_.value, self.sigma.value, self.kappa.value

    def _covariance(self) -> Floats:
        return np.array(self.covariance, dtype=float)


def fit_usl(
    concurrency: ArrayLike, throughput: ArrayLike, weights: Weights = "equal"
) -> UslFit:
    """Fit the USL to measured points: concurrency N and throughput X.

    N must be positive; X non-negative, in any unit (lambda comes out in
    that unit per unit of N). Repeated N are kept as replicates.
    ``weights="equal"`` minimises the squared residuals, as R's usl package
    and Gunther's examples do; ``"relative"`` minimises the squared
    residuals relative to X, which keeps the standard errors honest when
    the noise is a percentage of the throughput (it needs every X > 0).
    Raises AnalysisError with fewer than 4 distinct N, for non-finite
    values, or when the fit does not converge; fewer than 6 distinct N give
    a warning.
    """
    n, x = _validated(concurrency, throughput)
    scale = _scale(x, weights)
    params, covariance, notes = _solve(n, x, scale, _start(n, x))
    params = _snapped(params, n)
    coefficients = _coefficients(params, covariance, len(n) - 3)
    lambda_, sigma, kappa = coefficients
    peak, limit, outcome = _peak_or_limit(lambda_, sigma, kappa)
    notes += outcome + _range_notes(n, peak)
    fit = UslFit(
        lambda_=lambda_,
        sigma=sigma,
        kappa=kappa,
        r_squared=_r_squared(x, _model(n, *params)),
        concurrency=tuple(float(v) for v in n),
        throughput=tuple(float(v) for v in x),
        covariance=tuple(tuple(float(v) for v in row) for row in covariance),
        peak=peak,
        amdahl_limit=limit,
        warnings=tuple(notes),
        weights=weights,
    )
    log.debug("USL fit: lambda=%s sigma=%s kappa=%s R2=%s", *params, fit.r_squared)
    return fit


def read_points(path: Path) -> tuple[list[float], list[float]]:
    """Concurrency and throughput from a two-column CSV file.

    Comma-separated; blank lines and lines starting with ``#`` are skipped;
    a first row that is not numeric is taken for a header. Raises
    AnalysisError naming the file and line for a missing or unreadable
    file, a row without exactly two columns, or a value that is no finite
    number.
    """
    rows = list(_rows(path))
    if rows and not _numeric(rows[0][1]):
        rows = rows[1:]
    concurrency: list[float] = []
    throughput: list[float] = []
    for line, cells in rows:
        if len(cells) != 2:
            raise AnalysisError(
                f"{path}, line {line}: {len(cells)} columns ({', '.join(cells)}); "
                "expected two: concurrency, throughput"
            )
        concurrency.append(_number(path, line, cells[0]))
        throughput.append(_number(path, line, cells[1]))
    return concurrency, throughput


def _model(n: Floats, lambda_: float, sigma: float, kappa: float) -> Floats:
    return lambda_ * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def _gradient(n: Floats, lambda_: float, sigma: float, kappa: float) -> Floats:
    """dX/dlambda, dX/dsigma, dX/dkappa at each n, stacked on the first axis."""
    denominator = 1 + sigma * (n - 1) + kappa * n * (n - 1)
    shrink = -lambda_ * n * (n - 1) / denominator**2
    return np.stack([n / denominator, shrink, shrink * n])


def _validated(concurrency: ArrayLike, throughput: ArrayLike) -> tuple[Floats, Floats]:
    """Both as float arrays, or AnalysisError saying what is wrong with them."""
    try:
        n = np.asarray(concurrency, dtype=float).ravel()
        x = np.asarray(throughput, dtype=float).ravel()
    except (TypeError, ValueError) as error:
        raise AnalysisError(f"USL fit: the points are not numbers: {error}") from None
    if len(n) != len(x):
        raise AnalysisError(
            f"USL fit: {len(n)} concurrency values but {len(x)} throughput values"
        )
    if not (np.isfinite(n).all() and np.isfinite(x).all()):
        raise AnalysisError(
            "USL fit: the points hold NaN or infinite values; drop them"
        )
    if (n <= 0).any() or (x < 0).any() or not (x > 0).any():
        raise AnalysisError(
            "USL fit: concurrency must be positive and throughput non-negative, "
            "not all zero"
        )
    levels = np.unique(n)
    if len(levels) < MIN_LEVELS:
        raise AnalysisError(
            f"USL fit: {len(levels)} distinct concurrency levels "
            f"({', '.join(f'{v:g}' for v in levels)}); the fit of three coefficients "
            f"needs at least {MIN_LEVELS}: measure more steps"
        )
    return n, x


def _start(n: Floats, x: Floats) -> tuple[float, float, float]:
    """Starting values: lambda from the smallest N, the rest from a linear fit.

    With C(N) = X(N) / lambda the law reads
    N / C - 1 = sigma * (N - 1) + kappa * N * (N - 1), linear in sigma and
    kappa, which non-negative least squares solves.
    """
    positive = x > 0
    smallest = n == n[positive].min()
    lambda_ = float(x[smallest & positive].mean() / n[smallest & positive][0])
    design = np.column_stack([n - 1, n * (n - 1)])[positive]
    overhead = n[positive] * lambda_ / x[positive] - 1
    (sigma, kappa), _ = nnls(design, overhead)
    return lambda_, min(float(sigma), 1.0), min(float(kappa), 1.0)


def _scale(x: Floats, weights: Weights) -> Floats | None:
    """Each point's residual scale for ``curve_fit``: ``None`` for equal weights."""
    if weights == "equal":
        return None
    if weights != "relative":
        raise AnalysisError(
            f"USL fit: weights {weights!r} is not 'equal' or 'relative'"
        )
    if (x <= 0).any():
        raise AnalysisError("USL fit: relative weights need every throughput above 0")
    return x


def _solve(
    n: Floats, x: Floats, scale: Floats | None, start: tuple[float, float, float]
) -> tuple[Floats, Floats, list[str]]:
    """Bounded least squares from ``start``: coefficients, covariance, notes."""
    with warnings.catch_warnings():
        # A singular covariance comes back as inf; it is reported below.
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            params, covariance = curve_fit(
                _model,
                n,
                x,
                p0=start,
                sigma=scale,
                bounds=([0.0, 0.0, 0.0], [np.inf, 1.0, 1.0]),
                method="trf",
                x_scale="jac",
                ftol=1e-12,
                xtol=1e-12,
                gtol=1e-12,
                max_nfev=10_000,
            )
        except (RuntimeError, ValueError) as error:
            raise AnalysisError(f"USL fit did not converge: {error}") from error
    notes = []
    if not np.isfinite(covariance).all():
        covariance = np.full((3, 3), np.nan)
        notes.append(
            "standard errors could not be estimated: the points do not constrain "
            "all three coefficients"
        )
    return params, covariance, notes


def _snapped(params: Floats, n: Floats) -> Floats:
    """sigma and kappa set to 0 where they change no measured point.

    The solver stays strictly inside its bounds, so a coefficient that
    belongs at 0 comes back as 1e-16 or so; left there it would make a
    peak out of rounding. A term below DUST at every measured N is taken
    for that.
    """
    lambda_, sigma, kappa = params
    if sigma * np.abs(n - 1).max() < DUST:
        sigma = 0.0
    if kappa * np.abs(n * (n - 1)).max() < DUST:
        kappa = 0.0
    return np.array([lambda_, sigma, kappa])


def _coefficients(
    params: Floats, covariance: Floats, degrees_of_freedom: int
) -> list[Coefficient]:
    errors = np.sqrt(np.diag(covariance))
    half = _t_quantile(degrees_of_freedom) * errors
    pairs = zip(params, errors, half, strict=True)
    return [
        Coefficient(float(v), float(e), float(v - h), float(v + h)) for v, e, h in pairs
    ]


def _t_quantile(degrees_of_freedom: int) -> float:
    """Student's t for a two-sided interval at LEVEL."""
    return float(stats.t.ppf((1 + LEVEL) / 2, max(degrees_of_freedom, 1)))


def _peak_or_limit(
    lambda_: Coefficient, sigma: Coefficient, kappa: Coefficient
) -> tuple[Peak | None, float | None, list[str]]:
    """The peak when kappa is distinguishable from 0, else Amdahl's limit."""
    # Without an interval (NaN low, already warned about) the estimate decides.
    if kappa.value > 0 and not kappa.low <= 0:
        return _peak(lambda_.value, sigma.value, kappa.value), None, []
    if sigma.value > 0:
        return None, lambda_.value / sigma.value, []
    note = "sigma and kappa are both 0: throughput grew linearly with concurrency"
    return None, None, [note]


def _peak(lambda_: float, sigma: float, kappa: float) -> Peak:
    n = max(1.0, math.sqrt((1 - sigma) / kappa))
    n_floor = max(1, math.floor(n))
    x, x_floor = _model(np.array([n, n_floor], dtype=float), lambda_, sigma, kappa)
    return Peak(n=n, x=float(x), n_floor=n_floor, x_floor=float(x_floor))


def _range_notes(n: Floats, peak: Peak | None) -> list[str]:
    notes = []
    levels = len(np.unique(n))
    if levels < FEW_LEVELS:
        notes.append(
            f"only {levels} distinct concurrency levels: with fewer than "
            f"{FEW_LEVELS} the coefficients are loosely determined"
        )
    largest = float(n.max())
    if peak is not None and peak.n > EXTRAPOLATION_FACTOR * largest:
        notes.append(
            f"the peak N* = {peak.n:.4g} lies beyond twice the largest measured "
            f"concurrency ({largest:g}): it is an extrapolation"
        )
    return notes


def _r_squared(x: Floats, fitted: Floats) -> float:
    """1 - SS_res / SS_tot; NaN when every throughput is the same."""
    total = float(((x - x.mean()) ** 2).sum())
    residual = float(((x - fitted) ** 2).sum())
    return 1 - residual / total if total > 0 else math.nan


def _summary_lines(fit: UslFit) -> list[str]:
    n = fit.concurrency
    lines = [
        f"USL fit of {len(n)} points, concurrency {min(n):g} to {max(n):g}",
        "",
        f"{'':8}{'estimate':>14}{'std. error':>14}   95 % interval",
    ]
    for name, c in (
        ("lambda", fit.lambda_),
        ("sigma", fit.sigma),
        ("kappa", fit.kappa),
    ):
        interval = f"{c.low:.4g} .. {c.high:.4g}"
        lines.append(f"{name:8}{c.value:>14.6g}{c.stderr:>14.4g}   {interval}")
    lines += ["", f"R²      {fit.r_squared:.4f}"]
    if fit.weights != "equal":
        lines.append(f"weights {fit.weights}")
    lines += _outcome_lines(fit)
    lines += [f"warning: {note}" for note in fit.warnings]
    return lines


def _outcome_lines(fit: UslFit) -> list[str]:
    peak = fit.peak
    if peak is not None:
        return [
            f"peak    N* = {peak.n:.4g} (continuous), X(N*) = {peak.x:.6g}",
            f"        N = {peak.n_floor} (floored), "
            f"X({peak.n_floor}) = {peak.x_floor:.6g}",
        ]
    if fit.amdahl_limit is not None:
        return [
            "peak    none: kappa is indistinguishable from 0",
            f"limit   lambda/sigma = {fit.amdahl_limit:.6g} (Amdahl's limit)",
        ]
    return ["peak    none, limit none: sigma = kappa = 0"]


def _rows(path: Path) -> Sequence[tuple[int, list[str]]]:
    """(line number, stripped cells) of each row that is not blank or a comment."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnalysisError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise AnalysisError(f"{path}: cannot be read: {error}") from None
    reader = csv.reader(text.splitlines())
    rows = []
    for cells in reader:
        stripped = [cell.strip() for cell in cells]
        if any(stripped) and not stripped[0].startswith("#"):
            rows.append((reader.line_num, stripped))
    if not rows:
        raise AnalysisError(f"{path}: no data rows")
    return rows


def _numeric(cells: list[str]) -> bool:
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return False
    return True


def _number(path: Path, line: int, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise AnalysisError(f"{path}, line {line}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise AnalysisError(f"{path}, line {line}: {cell!r} is not a finite number")
    return value


def _finite(value: float | None) -> float | None:
    """``value``, or ``None`` for NaN and infinity (JSON has neither)."""
    if value is None or not math.isfinite(value):
        return None
    return value
