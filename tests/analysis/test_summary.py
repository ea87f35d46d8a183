from __future__ import annotations

import json
import shutil

import pytest

from octperf import analysis
from tests.analysis import synthetic as s


def _value(table, quantity):
    return table.loc[quantity, "value"]


def test_summary_table_counts_from_the_tables_without_summary_json(run, synthetic):
    """A crashed run (no summary.json) gets its totals from the tables."""
    (run.path / "summary.json").unlink()

    table = analysis.summary_table(run)

    client, haproxy = synthetic.client_total, synthetic.haproxy_total
    assert _value(table, "client requests") == client
    assert _value(table, "HAProxy requests (req_tot increase)") == haproxy
    assert _value(table, "difference (%)") == round(
        (haproxy - client) / client * 100, 2
    )
    assert _value(table, "failures") == sum(s.FAILURES.values())
    assert _value(table, "duration (s)") == 20.0
    assert _value(table, "throughput (req/s)") == round(client / 20, 1)


def test_summary_table_shows_the_totals_the_run_recorded(run):
    """summary.json's totals win over the tables' when the run wrote them."""
    recorded = json.loads((run.path / "summary.json").read_text())
    recorded["requests"]["client"]["total"] = 4000
    recorded["requests"]["haproxy"]["req_tot"] = 4010
    recorded["requests"]["difference_pct"] = 0.25
    recorded["duration_s"] = 40.0
    (run.path / "summary.json").write_text(json.dumps(recorded))

    table = analysis.summary_table(run)

    assert _value(table, "client requests") == 4000
    assert _value(table, "HAProxy requests (req_tot increase)") == 4010
    assert _value(table, "difference (%)") == 0.25
    assert _value(table, "throughput (req/s)") == 100.0


def test_summary_table_latency_is_that_of_the_whole_window(run, synthetic):
    """Window percentiles from merged histograms, rounded to 0.01 ms."""
    table = analysis.summary_table(run)

    values = [v for second in s.SECONDS for v in synthetic.latencies_us[second]]
    reference = s.histogram(values)
    for name, percentile in [("p50", 50), ("p99", 99), ("p99.9", 99.9)]:
        expected = round(reference.get_value_at_percentile(percentile) / 1000, 2)
        assert _value(table, f"latency {name} (ms)") == expected


def test_summary_table_reports_peak_scur_against_slim(run):
    """The highest frontend scur in the load window, next to its limit."""
    table = analysis.summary_table(run)

    assert _value(table, "peak scur (frontend)") == s.PEAK_SCUR
    assert _value(table, "slim (frontend)") == s.SLIM


def test_summary_table_names_the_run_and_versions(run):
    """Status, bed and the versions of what served and what loaded."""
    table = analysis.summary_table(run)

    assert _value(table, "run") == run.run_id
    assert _value(table, "status") == "complete"
    assert _value(table, "testbed") == "amphora"
    assert _value(table, "haproxy version") == "2.8.5-1ubuntu3"
    assert _value(table, "locust version") == "2.31.8"


@pytest.mark.parametrize(
    "quantity",
    ["client requests", "failures", "latency p99 (ms)", "peak scur (frontend)"],
)
def test_summary_table_says_no_data_for_a_run_without_tables(run, quantity):
    """Missing tables and summary: the quantity reads "no data"."""
    shutil.rmtree(run.tables_dir)
    (run.path / "summary.json").unlink()

    table = analysis.summary_table(run)

    assert _value(table, quantity) == analysis.NO_DATA


def test_summary_table_takes_nulls_in_summary_json_from_the_tables(run, synthetic):
    """An interrupted run writes null totals: the tables' numbers show instead."""
    recorded = json.loads((run.path / "summary.json").read_text())
    recorded["duration_s"] = None
    recorded["failures"] = None
    recorded["requests"]["client"] = None
    recorded["requests"]["haproxy"]["req_tot"] = None
    recorded["requests"]["difference_pct"] = None
    (run.path / "summary.json").write_text(json.dumps(recorded))

    table = analysis.summary_table(run)

    client, haproxy = synthetic.client_total, synthetic.haproxy_total
    assert _value(table, "client requests") == client
    assert _value(table, "HAProxy requests (req_tot increase)") == haproxy
    assert _value(table, "difference (%)") == round(
        (haproxy - client) / client * 100, 2
    )
    assert _value(table, "failures") == sum(s.FAILURES.values())
    assert _value(table, "duration (s)") == 20.0


def test_summary_table_keeps_a_recorded_zero(run):
    """0 in summary.json is a value, not a missing one."""
    recorded = json.loads((run.path / "summary.json").read_text())
    recorded["failures"] = 0
    recorded["requests"]["difference_pct"] = 0.0
    (run.path / "summary.json").write_text(json.dumps(recorded))

    table = analysis.summary_table(run)

    assert _value(table, "failures") == 0
    assert _value(table, "difference (%)") == 0.0


def test_summary_table_adds_the_agent_and_the_heartbeat_on_an_amphora_run(run):
    """The agent's CPU mean over the load window and the heartbeats received."""
    table = analysis.summary_table(run)

    mean = analysis.agent_cpu_mean(run)
    assert mean is not None
    assert _value(table, "amphora agent CPU mean (%)") == round(mean, 1)
    assert _value(table, "heartbeats received") == len(s.SAMPLES) - 1


def test_summary_table_of_a_local_run_has_no_amphora_rows(local_run):
    """No agent on the bed: no row for it, rather than "no data"."""
    table = analysis.summary_table(local_run)

    assert "amphora agent CPU mean (%)" not in table.index
    assert "heartbeats received" not in table.index
    assert _value(table, "testbed") == "local"
