from __future__ import annotations

import math

import pandas as pd

from octperf import analysis
from tests.analysis import synthetic as s

# Heartbeats whose interval touches the reload: HAProxy's side is unknown.
ACROSS_RELOAD = {s.RELOAD_SAMPLE - 1, s.RELOAD_SAMPLE}


def _in_load_window(synthetic) -> list[dict]:
    """Heartbeats arriving after the load start whose previous came before its end."""
    start, end = s.LOAD_START - s.T0, s.LOAD_END - s.T0
    return [
        b
        for j, b in enumerate(synthetic.heartbeats)
        if j + 0.5 > start and j - 0.5 < end
    ]


def test_has_heartbeat_tells_an_amphora_run_from_a_local_one(run, local_run):
    """Rows in table heartbeat, or a bed that listened for them."""
    assert analysis.has_heartbeat(run)
    assert not analysis.has_heartbeat(local_run)
    assert analysis.heartbeat_count(local_run) is None


def test_heartbeat_count_counts_datagrams_not_listeners(run, synthetic):
    """A heartbeat without listeners is one more; two listeners are still one."""
    path = run.tables_dir / "heartbeat.csv"
    table = pd.read_csv(path)
    second = table.iloc[[3]].assign(listener_id="another-listener")
    empty = table.iloc[[-1]].assign(
        ts=s.T0 + 30, seq=99, listener_id=None, status=None, tx=None, rx=None
    )
    pd.concat([table, second, empty]).to_csv(path, index=False)

    assert analysis.heartbeat_count(run) == len(synthetic.heartbeats) + 1
    assert "another-listener" in set(analysis.heartbeats(run)["listener_id"])
    assert analysis.heartbeats(run)["listener_id"].notna().all()


def test_heartbeats_sit_beside_haproxys_counters_over_the_same_interval(run, synthetic):
    """Away from the reload, HAProxy's increases equal the heartbeat's deltas."""
    frame = analysis.heartbeats(run)

    assert len(frame) == len(synthetic.heartbeats)
    assert math.isnan(frame["interval_s"].iloc[0])
    assert (frame["interval_s"].iloc[1:] == 1.0).all()
    for j, row in frame.iterrows():
        if j == 0 or j in ACROSS_RELOAD:
            assert row[["haproxy_bout", "haproxy_bin", "haproxy_stot"]].isna().all()
            continue
        assert row["haproxy_bout"] == row["tx"], j
        assert row["haproxy_bin"] == row["rx"], j
        assert row["haproxy_stot"] == row["totconns"], j
        assert row["haproxy_ereq"] == row["ereq"], j
        assert row["haproxy_scur"] == row["conns"], j


def test_heartbeats_across_a_reload_count_from_zero_and_haproxy_is_unknown(run):
    """The agent's delta restarts; no negative value on either side."""
    frame = analysis.heartbeats(run)

    reload_beat = frame.iloc[s.RELOAD_SAMPLE - 1]
    assert reload_beat["tx"] == s.BYTES_OUT * s.REQ_TOT_AFTER_RELOAD // 2
    counters = ["tx", "rx", "totconns", "haproxy_bout", "haproxy_bin", "haproxy_stot"]
    assert (frame[counters].fillna(0) >= 0).all().all()


def test_heartbeat_totals_compare_the_load_window_both_ways(run, synthetic):
    """Heartbeats add up their deltas; HAProxy its increases, reload left out."""
    table = analysis.heartbeat_totals(run)

    beats = _in_load_window(synthetic)
    tx = sum(b["tx"] for b in beats)
    bout = s.BYTES_OUT * synthetic.haproxy_total
    assert table.loc["bytes out (tx | bout)", "heartbeat"] == tx
    assert table.loc["bytes out (tx | bout)", "HAProxy"] == bout
    assert table.loc["bytes out (tx | bout)", "difference (%)"] == round(
        (tx - bout) / bout * 100, 2
    )
    assert table.loc["bytes in (rx | bin)", "heartbeat"] == sum(b["rx"] for b in beats)
    assert table.loc["connections (totconns | stot)", "heartbeat"] == sum(
        b["totconns"] for b in beats
    )
    assert table.loc["intervals added up"].tolist()[:2] == [len(beats), 19]


def test_heartbeat_totals_name_the_listener_status_seen(run):
    """Each status with how many heartbeats, or samples, showed it."""
    table = analysis.heartbeat_totals(run)

    assert table.loc["listener status", "heartbeat"] == "OPEN (20), FULL (1)"
    assert table.loc["listener status", "HAProxy"] == "OPEN (20), FULL (1)"


def test_heartbeat_totals_without_heartbeats_say_no_data(run, synthetic):
    """No heartbeat table: its side is unknown, not zero; HAProxy's stays."""
    (run.tables_dir / "heartbeat.csv").unlink()

    table = analysis.heartbeat_totals(run)

    assert (table["heartbeat"].iloc[:-1] == analysis.NO_DATA).all()
    assert table.loc["intervals added up", "heartbeat"] == 0
    assert table.loc["bytes out (tx | bout)", "difference (%)"] == ""
    bout = s.BYTES_OUT * synthetic.haproxy_total
    assert table.loc["bytes out (tx | bout)", "HAProxy"] == bout
