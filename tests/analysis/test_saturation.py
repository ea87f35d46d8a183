"""A sweep's saturation: the fit when steps carry one, the reason when not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from octperf.analysis.saturation import saturation


def _steps(users: list[int], sigma=0.05, kappa=0.001, lam=100.0) -> pd.DataFrame:
    n = np.asarray(users, dtype=float)
    throughput = lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    latency = n / throughput * 1000  # Little's law holds exactly: no deficit
    return pd.DataFrame(
        {
            "users": n,
            "throughput": throughput,
            "latency_mean_ms": latency,
            "latency_p99_ms": 2 * latency,
            "failure_rate": 0.0,
        }
    )


def test_enough_steps_give_the_fit_knee_and_headroom() -> None:
    """Eight exact USL points: sigma and kappa recovered, a peak, no problem."""
    found = saturation(_steps([1, 2, 4, 8, 16, 32, 64, 128]), latency_ms=500)
    assert found.problems == ()
    assert found.fit is not None and found.fit.peak is not None
    assert abs(found.fit.sigma.value - 0.05) < 1e-3
    assert abs(found.fit.kappa.value - 0.001) < 1e-4
    assert found.knee is not None and found.knee.n is not None
    assert found.headroom is not None
    assert not found.little["deficit"].any()
    assert "peak N* (continuous)" in found.table().index
    curve = found.curve()
    assert curve["throughput"].max() <= found.fit.peak.x + 1e-6
    assert (curve["low"] <= curve["throughput"]).all()
    assert (curve["throughput"] <= curve["high"]).all()
    assert found.residuals()["relative"].abs().max() < 1e-3
    assert found.headline() == found.headroom.sentence()
    assert found.to_dict()["fit"]["sigma"]["value"] == found.fit.sigma.value


def test_three_steps_keep_the_reason_instead_of_a_fit() -> None:
    """Three levels cannot carry three coefficients: no fit, a stated reason."""
    found = saturation(_steps([5, 20, 40]))
    assert found.fit is None and found.knee is None
    assert any("3 distinct concurrency levels" in p for p in found.problems)
    assert found.headroom is not None
    assert found.curve().empty
