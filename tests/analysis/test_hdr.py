from __future__ import annotations

import statistics

import pandas as pd
import pytest

from octperf import analysis
from octperf.errors import StoreError
from tests.analysis import synthetic as s


def _reference_ms(synthetic, seconds, percentile):
    """The percentile of one histogram holding every value of ``seconds``."""
    values = [v for second in seconds for v in synthetic.latencies_us[second]]
    return s.histogram(values).get_value_at_percentile(percentile) / 1000


def test_window_p99_merges_histograms_instead_of_averaging(run, synthetic):
    """The load window's p99 is that of all its responses, not a mean of p99s."""
    p99 = analysis.latency_percentiles(run)["p99"]

    per_second = analysis.latency(run).query("percentile == 'p99'")["latency_ms"]
    assert p99 == _reference_ms(synthetic, s.SECONDS, 99)
    assert p99 > 150  # 2 % of responses are slow: they are the top 1 %
    assert statistics.mean(per_second) < 60  # what averaging would have said


@pytest.mark.parametrize("name", ["p50", "p90", "p99", "p99.9"])
def test_window_percentiles_equal_one_histogram_of_all_values(run, synthetic, name):
    """Every window percentile matches the single-histogram reference."""
    percentile = float(name[1:])

    value = analysis.latency_percentiles(run)[name]

    assert value == _reference_ms(synthetic, s.SECONDS, percentile)


def test_window_percentiles_cover_only_the_given_window(run, synthetic):
    """A window of fast seconds only has a fast p99."""
    start, end = s.T0 + 5, s.T0 + 9  # buckets 5, 6, 7, 8: none slow

    p99 = analysis.latency_percentiles(run, start, end)["p99"]

    assert p99 == _reference_ms(synthetic, [5, 6, 7, 8], 99)
    assert p99 < 5


def test_merged_histogram_counts_every_response_of_the_window(run, synthetic):
    """The merged histogram holds as many responses as Locust counted."""
    histogram = analysis.merged_histogram(run)

    assert histogram.get_total_count() == synthetic.client_total


def test_window_without_histograms_has_unknown_percentiles(run):
    """No response in the window: NaN, not zero."""
    values = analysis.latency_percentiles(run, s.T0 + 100, s.T0 + 110)

    assert values.isna().all()
    assert analysis.merged_histogram(run, s.T0 + 100, s.T0 + 110) is None


def test_damaged_histogram_raises_store_error(run):
    """A row that does not decode names the table and the second."""
    path = run.tables_dir / "locust_hdr.csv"
    table = pd.read_csv(path)
    table.loc[3, "hdr"] = "not a histogram"
    table.to_csv(path, index=False)

    with pytest.raises(StoreError, match=r"locust_hdr\.csv.*ts=1800000005"):
        analysis.latency_percentiles(run)
