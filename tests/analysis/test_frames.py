from __future__ import annotations

import json
import shutil

import pytest

from octperf import analysis
from tests.analysis import synthetic as s

FRAMES = {
    analysis.client_rate: ["ts", "t", "requests", "failures"],
    analysis.haproxy_rate: [
        "ts",
        "t",
        "frontend",
        "interval_s",
        "requests",
        "requests_per_s",
    ],
    analysis.haproxy_bytes_rate: [
        *("ts", "t", "frontend", "interval_s"),
        *("bin", "bout", "bin_per_s", "bout_per_s"),
    ],
    analysis.latency: ["ts", "t", "percentile", "latency_ms"],
    analysis.connections: [
        "ts",
        "t",
        "pxname",
        "svname",
        "kind",
        "scur",
        "slim",
        "qcur",
    ],
    analysis.cpu_by_role: ["ts", "t", "role", "cpu_percent"],
    analysis.host_cpu: [
        *("ts", "t", "cpu", "busy", "user", "system"),
        *("softirq", "irq", "iowait", "steal"),
    ],
    analysis.host_memory: ["ts", "t", "used_mib", "total_mib"],
    analysis.agent_cpu: ["ts", "t", "interval_s", "cpu_percent"],
    analysis.agent_memory: ["ts", "t", "used_mib", "total_mib"],
    analysis.agent_net: [
        *("ts", "t", "interface", "interval_s"),
        *("tx_bytes_per_s", "rx_bytes_per_s"),
    ],
    analysis.heartbeats: [
        *("ts", "t", "interval_s", "amphora_id", "seq", "listener_id", "status"),
        *("tx", "rx", "conns", "totconns", "ereq"),
        *("haproxy_bout", "haproxy_bin", "haproxy_stot", "haproxy_ereq"),
        "haproxy_scur",
    ],
    analysis.gaps: [
        *("ts", "t", "last_ts", "last_t"),
        *("collector", "error", "reason", "samples"),
    ],
}


def test_client_rate_counts_each_second_since_load_start(run, synthetic):
    """One row per bucket, t counting from the load start, Locust's counts."""
    frame = analysis.client_rate(run)

    assert frame["t"].tolist() == [float(x - 2) for x in s.SECONDS]
    assert frame["requests"].tolist() == list(synthetic.requests.values())
    assert frame["failures"].sum() == sum(s.FAILURES.values())


def test_haproxy_rate_drops_the_interval_with_a_counter_reset(run, synthetic):
    """The reload interval is gone, no rate is negative, the rest adds up."""
    frame = analysis.haproxy_rate(run)

    assert (frame["requests_per_s"] >= 0).all()
    assert len(frame) == len(s.SAMPLES) - 2  # 24 intervals, one dropped
    assert s.T0 + s.RELOAD_SAMPLE - 1 not in frame["ts"].tolist()
    assert frame["requests"].sum() == synthetic.haproxy_total


def test_haproxy_rate_lines_up_with_client_buckets(run, synthetic):
    """An interval is stamped at its start, like the Locust bucket it matches."""
    frame = analysis.haproxy_rate(run).set_index("ts")

    for second, requests in synthetic.requests.items():
        if second != s.RELOAD_SAMPLE - 1:
            assert frame.loc[s.T0 + second, "requests_per_s"] == requests


def test_haproxy_rate_reads_only_frontends(run):
    """Backend and server rows carry req_tot too but are not counted."""
    assert analysis.haproxy_rate(run)["frontend"].unique().tolist() == [s.LISTENER]


def test_haproxy_bytes_rate_counts_bytes_and_skips_the_reload(run, synthetic):
    """bin and bout per second follow the requests; the reload interval is gone."""
    frame = analysis.haproxy_bytes_rate(run).set_index("ts")

    assert s.T0 + s.RELOAD_SAMPLE - 1 not in frame.index
    assert (frame[["bin_per_s", "bout_per_s"]] >= 0).all().all()
    for second, requests in synthetic.requests.items():
        if second != s.RELOAD_SAMPLE - 1:
            assert frame.loc[s.T0 + second, "bout_per_s"] == s.BYTES_OUT * requests
            assert frame.loc[s.T0 + second, "bin_per_s"] == s.BYTES_IN * requests
    assert frame["bout"].sum() == s.BYTES_OUT * synthetic.haproxy_total


def test_host_memory_is_psutils_used_in_mib(run):
    """used_bytes / 2^20, one row per sample."""
    frame = analysis.host_memory(run)

    assert frame["used_mib"].tolist() == [700.0 + k for k in s.SAMPLES]
    assert (frame["total_mib"] == 4096.0).all()


def test_latency_has_one_row_per_second_and_percentile(run):
    """Long format: p50, p90, p99 for each of the twenty seconds."""
    frame = analysis.latency(run)

    assert len(frame) == 3 * len(s.SECONDS)
    assert sorted(frame["percentile"].unique()) == ["p50", "p90", "p99"]
    slow = frame[(frame["percentile"] == "p99") & (frame["t"] == 2.0)]
    assert slow["latency_ms"].item() > 150


def test_connections_keeps_unknown_limits_unknown(run):
    """An empty slim is NaN, not zero; the frontend's slim is its limit."""
    frame = analysis.connections(run)

    frontend = frame[frame["kind"] == "frontend"]
    servers = frame[frame["kind"] == "server"]
    assert (frontend["slim"] == s.SLIM).all()
    assert servers["slim"].isna().all()
    assert frontend["scur"].max() == s.PEAK_SCUR
    assert len(servers) == 3 * len(s.SAMPLES)


def test_cpu_by_role_sums_a_roles_children(run):
    """A member's nginx master and two workers add up to the role's CPU."""
    frame = analysis.cpu_by_role(run)

    member = frame[frame["role"] == "member-2"]
    assert (member["cpu_percent"] == 0.5 + 10.0 + 12.0).all()
    assert len(member) == len(s.SAMPLES)
    haproxy = frame[frame["role"] == "haproxy"].set_index("ts")["cpu_percent"]
    assert haproxy[s.T0 + 7] == 27.0


def test_host_cpu_keeps_the_total_and_each_cpu(run):
    """``cpu`` is text: ``total`` or the CPU number."""
    frame = analysis.host_cpu(run)

    assert sorted(frame["cpu"].unique()) == ["0", "1", "2", "3", "total"]
    assert frame.loc[frame["cpu"] == "2", "busy"].max() == 95.0


@pytest.mark.parametrize("frame", list(FRAMES), ids=lambda f: f.__name__)
def test_missing_tables_give_empty_frames_with_columns(run, frame):
    """A run without tables gives empty frames, not errors."""
    shutil.rmtree(run.tables_dir)

    result = frame(run)

    assert result.empty
    assert result.columns.tolist() == FRAMES[frame]


def test_time_axis_starts_at_the_run_without_a_load_window(run):
    """Without ``load.started_at`` the run's ``started_at`` is time zero."""
    manifest = json.loads((run.path / "manifest.json").read_text())
    del manifest["load"]
    (run.path / "manifest.json").write_text(json.dumps(manifest))

    frame = analysis.client_rate(run)

    assert frame["t"].iloc[0] == 2.0 + 5.0  # the run started 5 s before T0
