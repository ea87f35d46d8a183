from __future__ import annotations

import json

import pandas as pd
import pytest

from octperf import analysis
from tests.analysis import synthetic as s

REASON = s.AGENT_GAPS[5]


def _rewrite(run, table, change) -> None:
    """Replace a table by ``change(frame)``, or by the frame it changed in place."""
    path = run.tables_dir / f"{table}.csv"
    frame = pd.read_csv(path)
    changed = change(frame)
    (frame if changed is None else changed).to_csv(path, index=False)


def _manifest(run, **fields) -> None:
    path = run.path / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(fields)
    path.write_text(json.dumps(manifest))


def test_consecutive_failures_with_one_reason_are_one_gap(run):
    """Samples 5-7 share a reason; 8 has another; 18 stands alone."""
    frame = analysis.gaps(run)

    assert frame.columns.tolist() == [
        *("ts", "t", "last_ts", "last_t", "collector", "error", "reason", "samples")
    ]
    assert frame[["t", "last_t", "samples"]].to_numpy().tolist() == [
        [3.0, 5.0, 3],
        [6.0, 6.0, 1],
        [16.0, 16.0, 1],
    ]
    assert frame["reason"].tolist() == [REASON, s.AGENT_GAPS[8], REASON]
    assert set(frame["collector"]) == {"amphora_agent"}
    assert set(frame["error"]) == {"CollectorError"}


def test_gaps_of_two_collectors_at_once_stay_apart(run):
    """Interleaved rows of two collectors are two stretches, not four."""

    def add_host_gaps(frame):
        host = frame[frame["sample"].isin([6, 7, 8])].assign(
            collector="host", error="KeyError", reason="'cpu'"
        )
        return pd.concat([frame, host]).sort_values("ts", kind="stable")

    _rewrite(run, "gaps", add_host_gaps)

    frame = analysis.gaps(run)

    host = frame[frame["collector"] == "host"]
    assert host[["t", "last_t", "samples"]].to_numpy().tolist() == [[3.0, 5.0, 3]]
    assert len(frame) == 4


def _every_other_sample_fails(run) -> None:
    """The agent sampled every other sample and failed at 20, 22 and 24."""
    failed = [20, 22, 24]
    rows = [
        {
            "ts": s.T0 + k,
            "ts_mono": 1000.0 + k,
            "sample": k + 1,
            "collector": "amphora_agent",
            "error": "CollectorError",
            "reason": REASON,
        }
        for k in failed
    ]
    pd.DataFrame(rows).to_csv(run.tables_dir / "gaps.csv", index=False)
    for table in ("amphora_agent", "amphora_agent_net"):
        _rewrite(run, table, lambda frame: frame[frame["ts"] < s.T0 + 20])


def test_a_less_frequent_collectors_failures_are_one_gap(run):
    """Samples 21, 23, 25 fail with no agent data between: one stretch."""
    _every_other_sample_fails(run)

    frame = analysis.gaps(run)

    assert frame[["t", "last_t", "samples"]].to_numpy().tolist() == [[18.0, 22.0, 3]]


def test_without_the_collectors_tables_only_consecutive_samples_join(run):
    """Nothing tells whether the agent answered between: three gaps."""
    _every_other_sample_fails(run)
    for table in ("amphora_agent", "amphora_agent_net"):
        (run.tables_dir / f"{table}.csv").unlink()

    assert analysis.gaps(run)["samples"].tolist() == [1, 1, 1]


def test_gap_count_is_unknown_for_a_run_without_the_gaps_table(run):
    """Runs older than the table say nothing about gaps: None, not 0."""
    assert analysis.gap_count(run) == len(s.AGENT_GAPS)

    (run.tables_dir / "gaps.csv").unlink()

    assert analysis.gap_count(run) is None
    assert analysis.gaps(run).empty


def test_events_are_on_the_time_axis(run):
    """The manifest's events with ``t`` counted from the load start."""
    frame = analysis.events(run)

    assert frame.columns.tolist() == ["ts", "t", "kind", "message"]
    assert frame[["t", "kind"]].to_numpy().tolist() == [
        [float(s.RELOAD_SAMPLE - 2), "haproxy_reload"]
    ]


def test_a_run_without_events_gives_an_empty_frame_with_columns(run):
    """No events recorded (or no list at all): empty, not an error."""
    _manifest(run, events=[])
    assert analysis.events(run).columns.tolist() == ["ts", "t", "kind", "message"]
    _manifest(run, events=None)
    assert analysis.events(run).empty


def test_table_lists_gaps_and_events_in_time_order(run):
    """One line per gap stretch and per event, by their start."""
    table = analysis.gaps_and_events_table(run)

    assert table.index.tolist() == ["gap", "gap", "haproxy_reload", "gap"]
    assert table.columns.tolist() == [
        *("from (s)", "to (s)", "source", "samples", "detail")
    ]
    assert table.iloc[0].tolist() == [
        3.0,
        5.0,
        "amphora_agent",
        3,
        f"CollectorError: {REASON}",
    ]
    assert table.iloc[2].tolist() == [10.0, "", "", "", s.RELOAD_MESSAGE]


def test_table_says_none_without_gaps_or_events(run):
    """A clean run: one row reading "none", every other cell empty."""
    _rewrite(run, "gaps", lambda frame: frame.iloc[:0])
    _manifest(run, events=[])

    table = analysis.gaps_and_events_table(run)

    assert table.index.tolist() == ["none"]
    assert set(table.iloc[0]) == {""}


def test_haproxy_restarts_are_where_pid_changes_or_uptime_goes_back(run):
    """A new Pid at the reload; a lower uptime with the same Pid counts too."""
    assert analysis.haproxy_restarts(run).tolist() == [s.T0 + s.RELOAD_SAMPLE]

    def restart_with_same_pid(frame):
        frame.loc[frame["ts"] == s.T0 + 20, "Uptime_sec"] = 0
        frame["Pid"] = s.PIDS[0]

    _rewrite(run, "haproxy_info", restart_with_same_pid)

    restarts = analysis.haproxy_restarts(run).tolist()
    assert restarts == [s.T0 + s.RELOAD_SAMPLE, s.T0 + 20]


def test_haproxy_rate_drops_a_reload_even_when_the_counter_grew(run, synthetic):
    """New process counting past the old one's total: still no rate across it."""

    def new_process_counts_more(frame):
        after = frame["ts"] >= s.T0 + s.RELOAD_SAMPLE
        frame.loc[after, "req_tot"] += 100_000

    before = analysis.haproxy_rate(run)
    _rewrite(run, "haproxy_stat", new_process_counts_more)

    after = analysis.haproxy_rate(run)

    assert after.equals(before)
    assert after["requests"].sum() == synthetic.haproxy_total


def test_summary_counts_gaps_and_reloads(run):
    """Failed samples of the whole run, and HAProxy reload events."""
    table = analysis.summary_table(run)["value"]

    assert table["gaps (failed samples)"] == len(s.AGENT_GAPS)
    assert table["HAProxy reloads"] == 1


@pytest.mark.parametrize("clean", [True, False])
def test_summary_gaps_are_zero_when_none_and_no_data_when_unknown(run, clean):
    """An empty gaps table is 0; no gaps table at all is "no data"."""
    if clean:
        _rewrite(run, "gaps", lambda frame: frame.iloc[:0])
    else:
        (run.tables_dir / "gaps.csv").unlink()

    value = analysis.summary_table(run).loc["gaps (failed samples)", "value"]

    assert value == (0 if clean else analysis.NO_DATA)


def test_table_says_gaps_are_unknown_for_a_run_before_the_gaps_table(run):
    """No gaps table: a first row says so, so "none" is never claimed."""
    (run.tables_dir / "gaps.csv").unlink()
    _manifest(run, events=[])

    table = analysis.gaps_and_events_table(run)

    assert table.index.tolist() == ["gaps unknown"]
    assert "before octperf stored them" in table.loc["gaps unknown", "detail"]
