"""A whole run on the amphora bed: HAProxy's, the agent's and psutil's views agree.

Root and the agent's virtualenv are needed (``make test`` installs it as
root); load flows only between the bed's namespaces.
"""

from __future__ import annotations

import pandas as pd
import pytest

from octperf import api
from octperf.store import open_run
from tests.agent.conftest import skip_reason
from tests.helpers import assert_gone, small_profile

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> api.RunReport:
    """One short 64 KiB run on the amphora bed, with its report."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("amphora-run")
    profile = small_profile(
        "amphora-run",
        testbed="amphora",
        load={"duration_s": 10},
        scenario={"object_size": "64k"},
    )
    return api.run(profile, base / "data", base / "reports")


def test_the_run_completes_with_every_source(finished) -> None:
    """testbed amphora, and rows from HAProxy, the agent and the heartbeat."""
    summary = finished.summary
    assert summary["status"] == "complete"
    assert summary["testbed"] == "amphora"
    for source in ("haproxy_stat", "amphora_agent", "amphora_agent_net", "heartbeat"):
        assert summary["samples"].get(source, 0) > 0, source
    requests = summary["requests"]
    client, haproxy = requests["client"]["total"], requests["haproxy"]["req_tot"]
    assert client > 50
    assert abs(haproxy - client) <= 0.01 * client


def test_the_manifest_records_versions_as_the_agent_reports_them(finished) -> None:
    """The agent's API version and its view of HAProxy's version are stored."""
    versions = open_run(finished.run_dir).manifest()["versions"]
    assert versions["amphora_agent_api"] == "1.0"
    assert versions["haproxy_per_agent"].startswith(versions["haproxy"])


def test_agent_cpu_agrees_with_psutil_over_the_same_window(finished) -> None:
    """CPU % from the agent's jiffies and psutil's host CPU differ by < 5 points."""
    run = open_run(finished.run_dir)
    agent = run.read_table("amphora_agent").dropna(subset=["cpu_percent"])
    host = run.read_table("host_cpu")
    host = host[host["cpu"] == "total"]
    start, end = agent["ts"].iloc[0], agent["ts"].iloc[-1]
    # Each agent value covers the interval since the agent's previous sample.
    window = host[(host["ts"] > agent["ts"].min() - 2) & (host["ts"] <= end)]
    agent_mean = agent["cpu_percent"].mean()
    host_mean = window["busy"].mean()
    assert len(agent) >= 3 and start < end
    assert abs(agent_mean - host_mean) < 5, (agent_mean, host_mean)


def test_eth1_transmit_matches_haproxy_bytes_out(finished) -> None:
    """The agent's eth1 tx and the frontend's bout agree within 10 %."""
    run = open_run(finished.run_dir)
    net = run.read_table("amphora_agent_net")
    eth1 = net[net["interface"] == "eth1"]
    stat = run.read_table("haproxy_stat")
    frontend = stat[stat["type"] == 0]
    t0, t1 = eth1["ts"].iloc[0], eth1["ts"].iloc[-1]
    bout = _delta_at(frontend, "bout", t0, t1)
    tx = eth1["network_tx"].iloc[-1] - eth1["network_tx"].iloc[0]
    assert bout > 10 * 65536
    # tx exceeds bout by TCP/IP headers (~4 % for 64 KiB over a 1500 MTU).
    assert bout <= tx <= 1.10 * bout, (tx, bout)


def test_heartbeat_counters_sit_beside_haproxys_own(finished) -> None:
    """Octavia's view: the heartbeat's tx adds up to the frontend's bout."""
    run = open_run(finished.run_dir)
    beats = run.read_table("heartbeat")
    stat = run.read_table("haproxy_stat")
    frontend = stat[stat["type"] == 0]
    bout = frontend["bout"].iloc[-1] - frontend["bout"].iloc[0]
    assert set(beats["listener_id"]) == {
        open_run(finished.run_dir).manifest()["bed"]["frontend"]
    }
    assert 0.9 * bout <= beats["tx"].sum() <= 1.01 * bout, (beats["tx"].sum(), bout)


def test_nothing_is_left_after_an_amphora_run(finished) -> None:
    """Every process is gone, and the report was written."""
    manifest = open_run(finished.run_dir).manifest()
    pids = [p["pid"] for p in manifest["bed"]["processes"]]
    pids += [p["pid"] for p in manifest["load"]["processes"]]
    assert_gone(pids)
    assert finished.report is not None and finished.report.is_file()


def _delta_at(frame: pd.DataFrame, field: str, t0: float, t1: float) -> float:
    """Increase of a counter between the samples nearest to t0 and t1."""
    at = frame.set_index("ts")[field]
    return float(
        at.iloc[at.index.get_indexer([t1], "nearest")[0]]
        - at.iloc[at.index.get_indexer([t0], "nearest")[0]]
    )
