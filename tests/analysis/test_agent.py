from __future__ import annotations

import json

import pytest

from octperf import analysis
from tests.analysis import synthetic as s


def test_has_amphora_agent_tells_an_amphora_run_from_a_local_one(run, local_run):
    """The agent's tables say so; a local run has neither them nor the agent."""
    assert analysis.has_amphora_agent(run)
    assert not analysis.has_amphora_agent(local_run)


def test_has_amphora_agent_when_the_agent_failed_every_sample(run):
    """No agent table, but the bed recorded the agent: its view is all gaps."""
    for table in ("amphora_agent", "amphora_agent_net"):
        (run.tables_dir / f"{table}.csv").unlink()

    assert analysis.has_amphora_agent(run)
    assert analysis.agent_cpu(run).empty


def test_agent_cpu_skips_the_first_sample_and_knows_each_interval(run):
    """cpu_percent as stored; interval_s spans the agent's failed samples."""
    frame = analysis.agent_cpu(run).set_index("ts")

    answered = s.agent_samples()
    assert frame.index.tolist() == [s.T0 + k for k in answered[1:]]
    assert frame.loc[s.T0 + 9, "cpu_percent"] == 49.0
    assert frame.loc[s.T0 + 9, "interval_s"] == 5.0  # 5 to 8 failed
    assert frame.loc[s.T0 + 3, "t"] == 1.0


def test_agent_cpu_mean_covers_the_intervals_overlapping_the_load(run):
    """Samples after the load start whose interval began before its end."""
    answered = s.agent_samples()
    previous = dict(zip(answered[1:], answered, strict=False))
    start, end = s.LOAD_START - s.T0, s.LOAD_END - s.T0
    inside = [k for k in answered[1:] if k > start and previous[k] < end]

    mean = analysis.agent_cpu_mean(run)

    assert inside[0] == 3 and inside[-1] == 22
    assert mean == pytest.approx(sum(40.0 + k for k in inside) / len(inside))


def test_agent_cpu_mean_is_none_without_values(run):
    """No agent table: no mean, not zero."""
    (run.tables_dir / "amphora_agent.csv").unlink()

    assert analysis.agent_cpu_mean(run) is None


def test_agent_memory_is_used_as_free_counts_it(run):
    """total - free - buffers - cached, kB to MiB."""
    frame = analysis.agent_memory(run).set_index("ts")

    used_kb = s.MEM_TOTAL_KB - s.MEM_FREE_KB - s.MEM_BUFFERS_KB - s.MEM_CACHED_KB
    for k in s.agent_samples():
        assert frame.loc[s.T0 + k, "used_mib"] == used_kb / 1024 + k
    assert (frame["total_mib"] == s.MEM_TOTAL_KB / 1024).all()


def test_agent_net_keeps_each_interface_and_its_interval(run):
    """eth1 and eth2 per sample; the first has no rate, the rest their interval."""
    frame = analysis.agent_net(run)

    assert sorted(frame["interface"].unique()) == ["eth1", "eth2"]
    eth1 = frame[frame["interface"] == "eth1"].set_index("ts")
    assert eth1["tx_bytes_per_s"].isna().tolist()[:2] == [True, False]
    assert eth1.loc[s.T0 + 9, "interval_s"] == 5.0
    assert eth1.loc[s.T0 + 3, "tx_bytes_per_s"] == 1040 * (100 + 2)


def test_agent_time_axis_counts_from_the_load_start(run):
    """Like every frame: t is seconds since the manifest's load start."""
    manifest = json.loads((run.path / "manifest.json").read_text())

    frame = analysis.agent_memory(run)

    assert frame["t"].iloc[0] == s.T0 - manifest["load"]["started_at"]
