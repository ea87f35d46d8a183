"""The highest sustainable throughput of a sweep, on tables with known answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from octperf.analysis._headroom import highest_sustainable
from octperf.errors import AnalysisError


def steps(p99: list[float], failures: list[float], **extra) -> pd.DataFrame:
    """Four steps at 10, 20, 40, 80 users making 100, 200, 380, 500 req/s."""
    table = {
        "users": [10, 20, 40, 80],
        "throughput": [100.0, 200.0, 380.0, 500.0],
        "latency_p99_ms": p99,
        "failure_rate": failures,
    }
    return pd.DataFrame(table | extra)


def test_headroom_interpolates_to_where_latency_reaches_its_bound():
    """p99 goes 100 -> 300 ms from 40 to 80 users: 200 ms is half-way, 440 req/s."""
    headroom = highest_sustainable(steps([50, 80, 100, 300], [0, 0, 0, 0.005]), 200)
    assert headroom.throughput == pytest.approx(440)
    assert headroom.users == pytest.approx(60)
    assert headroom.interpolated
    assert headroom.breaking_users == 80
    assert headroom.broken == ("latency p99",)


def test_the_objective_crossed_first_sets_the_interpolation():
    """Both break at 80 users; failures cross 1 % a tenth of the way, latency half."""
    table = steps([50, 80, 100, 300], [0, 0, 0, 0.1])
    headroom = highest_sustainable(table, 200, failure_budget=0.01)
    assert headroom.throughput == pytest.approx(380 + 0.1 * 120)
    assert headroom.users == pytest.approx(44)
    assert headroom.broken == ("latency p99", "failure rate")


def test_a_retrograde_step_keeps_the_measured_best():
    """Throughput falls after 40 users: 380 measured beats any point on the way down."""
    table = steps([50, 80, 100, 300], [0, 0, 0, 0])
    table["throughput"] = [100.0, 200.0, 380.0, 300.0]
    headroom = highest_sustainable(table, 200)
    assert headroom.throughput == 380
    assert headroom.users == 40
    assert not headroom.interpolated
    assert headroom.breaking_users == 80


def test_when_every_step_passes_the_best_measured_step_is_the_answer():
    headroom = highest_sustainable(steps([50, 80, 100, 150], [0, 0, 0, 0]), 200)
    assert (headroom.throughput, headroom.users) == (500, 80)
    assert headroom.breaking_users is None and headroom.broken == ()
    assert headroom.sentence().startswith("Every step meets p99 <= 200 ms")


def test_when_the_first_step_fails_nothing_is_sustainable():
    headroom = highest_sustainable(steps([250, 280, 300, 350], [0, 0, 0, 0]), 200)
    assert headroom.throughput is None and headroom.users is None
    assert headroom.breaking_users == 10
    assert "No step meets" in headroom.sentence()


def test_steps_past_the_first_failure_do_not_count():
    """A later step that passes again does not lift the answer."""
    table = steps([50, 250, 100, 120], [0, 0, 0, 0])
    headroom = highest_sustainable(table, 200)
    assert headroom.breaking_users == 20
    assert headroom.throughput == pytest.approx(100 + 0.75 * 100)


def test_an_unknown_latency_fails_without_interpolation():
    """NaN p99 at 80 users: it breaks the objective, and 380 req/s stands."""
    headroom = highest_sustainable(steps([50, 80, 100, math.nan], [0] * 4), 200)
    assert headroom.broken == ("latency p99 (no data)",)
    assert headroom.throughput == 380 and not headroom.interpolated


def test_unsorted_steps_are_taken_in_order_of_users():
    table = steps([50, 80, 100, 300], [0, 0, 0, 0]).iloc[::-1]
    assert highest_sustainable(table, 200).throughput == pytest.approx(440)


def test_another_percentile_reads_its_own_column():
    table = steps([50, 80, 100, 300], [0] * 4, latency_p90_ms=[10, 20, 30, 50])
    headroom = highest_sustainable(table, 40, percentile="p90")
    assert headroom.throughput == pytest.approx(440)
    assert headroom.broken == ("latency p90",)


def test_the_sentence_says_it_all():
    headroom = highest_sustainable(steps([50, 80, 100, 300], [0, 0, 0, 0]), 200)
    assert headroom.sentence() == (
        "Up to 440 req/s (60 users, interpolated) meets p99 <= 200 ms and "
        "failures <= 1 %; the step at 80 users breaks latency p99."
    )
    assert headroom.to_dict()["sentence"] == headroom.sentence()


def test_a_missing_column_is_named():
    table = steps([50, 80, 100, 300], [0] * 4).drop(columns="failure_rate")
    with pytest.raises(AnalysisError, match="lack failure_rate"):
        highest_sustainable(table, 200)


@pytest.mark.parametrize(("bound", "budget"), [(0, 0.01), (200, 1.0), (200, -0.1)])
def test_objectives_out_of_range_are_refused(bound, budget):
    with pytest.raises(AnalysisError, match="must be positive"):
        highest_sustainable(steps([50] * 4, [0] * 4), bound, failure_budget=budget)
