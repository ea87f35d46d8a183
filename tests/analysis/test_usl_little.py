"""Little's law per step: users against throughput x (response + think time)."""

from __future__ import annotations

import pandas as pd
import pytest

from octperf.analysis._little import DEFICIT_RATIO, littles_law
from octperf.errors import AnalysisError


def test_users_that_account_for_their_throughput_show_no_deficit():
    """10 users, 100 ms per loop (50 + 50 think): exactly 100 req/s."""
    steps = pd.DataFrame(
        {"users": [10, 50], "throughput": [100.0, 480.0], "latency_mean_ms": [50, 55]}
    )
    frame = littles_law(steps, think_time_s=0.05)
    assert frame["expected_users"].tolist() == pytest.approx([10, 50.4])
    assert frame["ratio"].tolist() == pytest.approx([1.0, 1.008])
    assert not frame["deficit"].any()


def test_a_generator_eating_concurrency_shows_a_deficit():
    """100 users but 500 req/s x 150 ms = 75 in the loop: a quarter are missing."""
    steps = pd.DataFrame(
        {"users": [10, 100], "throughput": [100.0, 500.0], "latency_mean_ms": [50, 100]}
    )
    frame = littles_law(steps, think_time_s=0.05)
    assert frame.loc[1, "expected_users"] == pytest.approx(75)
    assert frame.loc[1, "ratio"] == pytest.approx(0.75)
    assert frame["deficit"].tolist() == [False, True]


def test_the_threshold_is_ninety_percent_unless_told():
    """0.89 is a deficit by default, not when the threshold is 0.8."""
    steps = pd.DataFrame(
        {"users": [100], "throughput": [89.0], "latency_mean_ms": [1000]}
    )
    assert DEFICIT_RATIO == 0.9
    assert littles_law(steps)["deficit"].item()
    assert not littles_law(steps, deficit_ratio=0.8)["deficit"].item()


def test_a_think_time_column_overrides_the_argument():
    steps = pd.DataFrame(
        {
            "users": [10, 20],
            "throughput": [100.0, 100.0],
            "latency_mean_ms": [0, 0],
            "think_time_s": [0.1, 0.2],
        }
    )
    frame = littles_law(steps, think_time_s=5.0)
    assert frame["expected_users"].tolist() == pytest.approx([10, 20])


def test_a_missing_column_is_named():
    steps = pd.DataFrame({"users": [10], "throughput": [100.0]})
    with pytest.raises(AnalysisError, match="lack latency_mean_ms"):
        littles_law(steps)
