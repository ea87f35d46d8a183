"""Latency percentiles over a window, from the per-second HdrHistograms.

Percentiles do not average: the p99 of a minute is not the mean of its
sixty per-second p99s. The ``locust_hdr`` table keeps each second's whole
histogram so any window's percentiles can be computed exactly by adding the
histograms up first.
"""

from __future__ import annotations

import logging

import pandas as pd
from hdrh.histogram import HdrHistogram

from octperf.analysis._time import in_buckets, load_window
from octperf.errors import StoreError
from octperf.store import RunDir

log = logging.getLogger(__name__)

WINDOW_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}


def merged_histogram(
    run: RunDir, start: float | None = None, end: float | None = None
) -> HdrHistogram | None:
    """One HdrHistogram holding every response of the seconds in a window.

    Values are microseconds. The window defaults to the load window; a
    second counts when its bucket overlaps ``[start, end)``. ``None`` when
    the run has no histogram in the window. Raises StoreError for a row
    that does not decode.
    """
    if start is None and end is None:
        start, end = load_window(run)
    table = run.read_table("locust_hdr").reindex(columns=["ts", "count", "hdr"])
    rows = table[in_buckets(table["ts"], start, end) & table["hdr"].notna()]
    pairs = zip(rows["ts"], rows["hdr"], strict=True)
    histograms = [_decode(run, ts, text) for ts, text in pairs]
    if not histograms:
        return None
    total = HdrHistogram(
        min(h.lowest_trackable_value for h in histograms),
        max(h.highest_trackable_value for h in histograms),
        max(h.significant_figures for h in histograms),
    )
    for histogram in histograms:
        total.add(histogram)
    log.debug("merged %s histograms, %s responses", len(histograms), total.total_count)
    return total


def latency_percentiles(
    run: RunDir, start: float | None = None, end: float | None = None
) -> pd.Series:
    """p50, p90, p99 and p99.9 in milliseconds over a window (see above).

    Computed from the merged histogram, never from per-second percentiles;
    all NaN when the window holds no response.
    """
    histogram = merged_histogram(run, start, end)
    values = {
        name: _percentile_ms(histogram, percentile)
        for name, percentile in WINDOW_PERCENTILES.items()
    }
    return pd.Series(values, name="latency_ms", dtype=float)


def _percentile_ms(histogram: HdrHistogram | None, percentile: float) -> float:
    if histogram is None or histogram.total_count == 0:
        return float("nan")
    return histogram.get_value_at_percentile(percentile) / 1000


def _decode(run: RunDir, ts: float, text: str) -> HdrHistogram:
    try:
        return HdrHistogram.decode(text)
    except Exception as error:  # hdrh raises TypeError, zlib.error and its own
        raise StoreError(
            f"{run.path}/tables/locust_hdr.csv: the histogram at ts={ts} does "
            f"not decode ({error}); the table is damaged, re-run or drop the row"
        ) from error
