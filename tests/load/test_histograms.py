"""Per-second histograms: recording on a worker, merging on the master."""

from __future__ import annotations

import pytest

from octperf.load._histograms import (
    SecondMerger,
    SecondRecorder,
    decode,
    hdr_row,
    locust_row,
    percentiles_ms,
)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def recorded(times_ms: dict[float, list[float]], now: float, final: bool) -> dict:
    """A worker report with the given response times keyed by clock time."""
    clock = FakeClock(0)
    recorder = SecondRecorder(clock)
    for at, values in times_ms.items():
        clock.now = at
        for value in values:
            recorder.record(value, failed=value >= 1000)
    clock.now = now
    return recorder.take(final=final)


def test_recorder_hands_over_only_finished_seconds():
    """Seconds before the current one leave; the current one stays until final."""
    clock = FakeClock(100.2)
    recorder = SecondRecorder(clock)
    recorder.record(1.0, failed=False)
    clock.now = 101.7
    recorder.record(2.0, failed=True)
    report = recorder.take(final=False)
    assert [(ts, failures) for ts, failures, _ in report["seconds"]] == [(100, 0)]
    assert report["complete_before"] == 101
    last = recorder.take(final=True)
    assert [(ts, failures) for ts, failures, _ in last["seconds"]] == [(101, 1)]
    assert last["final"] is True
    assert recorder.take(final=True)["seconds"] == []


def test_recorder_stores_microseconds_and_clips_to_the_range():
    """1.5 ms is 1500 µs; zero becomes 1 µs and two hours become one hour."""
    report = recorded({5.0: [1.5, 0.0, 7_200_000.0]}, now=6.0, final=False)
    histogram = decode(report["seconds"][0][2])
    assert histogram.get_total_count() == 3
    assert histogram.get_min_value() == 1
    assert histogram.get_count_at_value(1500) == 1
    assert histogram.get_max_value() == pytest.approx(3_600_000_000, rel=1e-3)


def test_merger_holds_a_second_until_every_live_worker_passed_it():
    """A second is written only when all workers have reported beyond it."""
    merger = SecondMerger()
    merger.begin(10.0)
    merger.add("a", recorded({10.1: [1.0], 11.5: [1.0]}, now=12.0, final=False))
    assert merger.release(["a", "b"]) == []
    merger.add("b", recorded({10.3: [2.0]}, now=11.0, final=False))
    released = merger.release(["a", "b"])
    assert [(ts, s.histogram.get_total_count()) for ts, s in released] == [(10, 2)]
    merger.add("b", recorded({}, now=13.0, final=False))
    released = merger.release(["a", "b"])
    assert [(ts, s.histogram.get_total_count()) for ts, s in released] == [(11, 1)]


def test_merger_adds_histograms_instead_of_averaging_percentiles():
    """p90 of 100 fast and 100 slow responses is slow, not their mean."""
    merger = SecondMerger()
    merger.add("fast", recorded({1.0: [1.0] * 100}, now=2.0, final=True))
    merger.add("slow", recorded({1.0: [100.0] * 100}, now=2.0, final=True))
    [(ts, second)] = merger.release_all()
    latency = percentiles_ms(second.histogram)
    assert ts == 1
    assert latency["p50"] == pytest.approx(1.0, rel=1e-3)
    assert latency["p90"] == pytest.approx(100.0, rel=1e-3)
    assert merger.total.histogram.get_total_count() == 200


def test_merger_writes_an_empty_row_for_a_silent_second():
    """A second in which no response ended is a row with zero requests."""
    merger = SecondMerger()
    merger.begin(20.0)
    merger.add("a", recorded({20.5: [1.0], 22.5: [1.0]}, now=23.0, final=False))
    rows = [locust_row(ts, s) for ts, s in merger.release(["a"])]
    assert [(r["ts"], r["requests"]) for r in rows] == [(20, 1), (21, 0), (22, 1)]
    assert rows[1]["latency_p99_ms"] is None
    assert rows[1]["failures"] == 0


def test_merger_keeps_late_data_as_an_extra_row():
    """Responses for a second already written are written again, not lost."""
    merger = SecondMerger()
    merger.add("a", recorded({30.0: [1.0]}, now=31.0, final=False))
    assert [ts for ts, _ in merger.release(["a"])] == [30]
    merger.add("a", recorded({30.0: [1.0], 31.0: [1.0]}, now=32.0, final=True))
    assert [ts for ts, _ in merger.release(["a"])] == [30, 31]
    assert merger.late_rows == 1
    assert merger.total.histogram.get_total_count() == 3


def test_merger_counts_failures_per_second_and_in_total():
    """Failures travel with their second; rows carry them unchanged."""
    merger = SecondMerger()
    merger.add("a", recorded({40.0: [1.0, 1500.0, 2000.0]}, now=41.0, final=True))
    [(ts, second)] = merger.release_all()
    assert locust_row(ts, second)["failures"] == 2
    assert merger.total.failures == 2
    assert merger.is_final("a")


def test_hdr_row_decodes_to_its_count():
    """The stored encoding decodes to a histogram of the row's count."""
    merger = SecondMerger()
    merger.add("a", recorded({50.0: [1.0, 2.0, 3.0]}, now=51.0, final=True))
    [(ts, second)] = merger.release_all()
    row = hdr_row(ts, second)
    assert row["count"] == 3
    assert decode(row["hdr"]).get_total_count() == 3
