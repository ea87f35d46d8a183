"""HAProxy reloaded or restarted mid-run: one event, no negative rate, no lost row.

The real tests reload HAProxy as an amphora does: master-worker mode (``-W``)
and SIGUSR2 to the master, which starts a new worker with fresh counters
and hands it the VIP and the stats socket. One test also stops HAProxy and
starts it again, which leaves a gap while it is down.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from octperf import analysis
from octperf.collectors import HAProxyCollector, HostCollector, Sampler, StatsSocket
from octperf.collectors.haproxy import (
    ProcessState,
    parse_info_and_stat,
    reload_event,
)
from octperf.store import RunDir, create_run

LONG = 3600.0  # an interval no test waits for: samples are taken by hand

DATA = Path(__file__).parent / "data"
SHOW_STAT = (DATA / "show_stat_2.6.txt").read_text()
SHOW_INFO = (DATA / "show_info_2.6.txt").read_text()
FRONTEND = "5b8c3a1e-listener"  # the listener's name in the captured output


class CannedSocket(StatsSocket):
    """Answers ``show info;show stat`` with the captured text, edited."""

    def __init__(self) -> None:
        super().__init__("/nonexistent")
        self.pid, self.uptime_s, self.req_tot = 3950, 1, 3

    def command(self, line: str) -> str:
        assert line == "show info;show stat"
        info = SHOW_INFO.replace("Pid: 3950", f"Pid: {self.pid}")
        info = info.replace("Uptime_sec: 1\n", f"Uptime_sec: {self.uptime_s}\n")
        return f"{info.rstrip()}\n\n{self._stat()}"

    def _stat(self) -> str:
        # The captured listener frontend has req_tot 3, the 49th field.
        lines = SHOW_STAT.splitlines(keepends=True)
        fields = lines[1].split(",")
        assert fields[0] == FRONTEND and fields[48] == "3"
        fields[48] = str(self.req_tot)
        return "".join([lines[0], ",".join(fields), *lines[2:]])


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return create_run(tmp_path, "reload")


def _state(pid="10", uptime_s=100, req_tot=500, stot=50) -> ProcessState:
    counters = {("fe", "req_tot"): req_tot, ("fe", "stot"): stot}
    return ProcessState(pid, uptime_s, counters)


def test_one_answer_holds_both_info_and_stat():
    """``show info;show stat`` splits at the blank line that ends the info."""
    info, rows = parse_info_and_stat(f"{SHOW_INFO.rstrip()}\n\n{SHOW_STAT}")

    assert info["Pid"] == "3950"
    assert [row["svname"] for row in rows][:1] == ["FRONTEND"]
    assert len(rows) == 4


def test_the_same_process_counting_on_is_no_event():
    """Pid unchanged, uptime and counters growing: nothing happened."""
    assert reload_event(_state(), _state(uptime_s=101, req_tot=900, stot=51)) is None


def test_a_new_pid_is_a_reload_even_when_counters_grew():
    """The new process may already count more than the old one had."""
    event = reload_event(_state(), _state(pid="11", uptime_s=0, req_tot=900))

    assert event is not None
    assert event.kind == "haproxy_reload"
    assert event.message == (
        "HAProxy restarted or reloaded: Pid 10 -> 11, Uptime_sec 100 -> 0; "
        "its counters start again from zero"
    )


def test_uptime_going_back_is_a_restart_even_with_the_same_pid():
    """A PID reused by the new process does not hide the restart."""
    event = reload_event(_state(), _state(uptime_s=2, req_tot=3, stot=1))

    assert event is not None
    assert event.message == (
        "HAProxy restarted or reloaded: Pid 10 -> 10, Uptime_sec 100 -> 2; "
        "its counters start again from zero (req_tot of frontend fe 500 -> 3, "
        "stot of frontend fe 50 -> 1)"
    )


def test_counters_going_back_in_the_same_process_say_so():
    """``clear counters all`` is told apart from a reload by Pid and uptime."""
    event = reload_event(_state(), _state(uptime_s=101, req_tot=0, stot=0))

    assert event is not None
    assert event.message.startswith(
        "HAProxy's counters went back within one process (Pid 10, "
        "Uptime_sec 100 -> 101), as `clear counters all` does: "
        "req_tot of frontend fe 500 -> 0"
    )


def test_unknown_values_are_never_a_reload():
    """An empty Pid, uptime or counter compares with nothing."""
    unknown = ProcessState(None, None, {})

    assert reload_event(_state(), unknown) is None
    assert reload_event(unknown, _state()) is None


def test_the_collector_reports_each_reload_once():
    """Events are handed out once, in the sample that saw the change."""
    socket = CannedSocket()
    collector = HAProxyCollector(socket)
    collector.sample(1.0)
    socket.uptime_s, socket.req_tot = 2, 10
    collector.sample(2.0)
    assert collector.take_events() == []

    socket.pid, socket.uptime_s, socket.req_tot = 4000, 0, 0
    collector.sample(3.0)
    socket.uptime_s, socket.req_tot = 1, 5
    collector.sample(4.0)

    events = collector.take_events()
    assert [event.message for event in events] == [
        "HAProxy restarted or reloaded: Pid 3950 -> 4000, Uptime_sec 2 -> 0; "
        f"its counters start again from zero (req_tot of frontend {FRONTEND} "
        "10 -> 0)"
    ]
    assert collector.take_events() == []


def test_a_reload_mid_run_is_one_event_and_never_a_negative_rate(
    run, haproxy_master_worker
):
    """Sampling through a real reload: one event, rates >= 0, no gap, ts_mono up."""
    haproxy = haproxy_master_worker
    old_pid = haproxy.worker_pid()
    collectors = [HAProxyCollector(haproxy.socket_path), HostCollector(["lo"])]

    with Sampler(run, collectors, interval_s=0.05) as sampler:
        haproxy.get(30)
        _wait_for_samples(sampler, 2)  # the old worker's count is sampled
        new_pid = haproxy.reload()
        _wait_for_samples(sampler, 2)  # so is the new worker's, before traffic
        haproxy.get(10)
        _wait_for_samples(sampler, 2)

    events = [e for e in run.manifest()["events"] if e["kind"] == "haproxy_reload"]
    assert len(events) == 1
    assert f"Pid {old_pid} -> {new_pid}" in events[0]["message"]
    rate = analysis.haproxy_rate(run)
    assert (rate["requests"] >= 0).all() and (rate["requests_per_s"] >= 0).all()
    frontend = rate[rate["frontend"] == haproxy.listener]
    assert frontend["requests"].sum() == 30 + 10
    assert run.table_rows()["gaps"] == 0
    for table in run.table_rows():
        ts_mono = run.read_table(table)["ts_mono"]
        assert ts_mono.is_monotonic_increasing, table


def _wait_for_samples(sampler: Sampler, count: int, timeout_s: float = 20.0) -> None:
    """Wait until ``count`` more samples have been taken (one of them whole)."""
    target = sampler.samples + count
    deadline = time.monotonic() + timeout_s
    while sampler.samples < target:
        assert time.monotonic() < deadline, f"fewer than {target} samples in time"
        time.sleep(0.01)


def test_the_interval_across_a_reload_is_left_out_even_if_counters_grew(
    run, haproxy_master_worker
):
    """More requests after the reload than before: no bogus positive rate."""
    haproxy = haproxy_master_worker
    sampler = Sampler(run, [HAProxyCollector(haproxy.socket_path)], LONG).start()
    haproxy.get(5)
    sampler.sample_now()
    haproxy.reload()
    haproxy.get(30)  # req_tot 30 after the reload against 5 before it
    sampler.sample_now()
    haproxy.get(10)
    sampler.stop()  # samples req_tot 40

    frontend = analysis.haproxy_rate(run).query("frontend == @haproxy.listener")
    assert frontend["requests"].tolist() == [5, 10]
    assert len(run.manifest()["events"]) == 1


def test_a_restart_mid_run_leaves_gap_rows_then_one_event(run, haproxy):
    """Down: each sample is a gap naming the socket. Back: one reload event."""
    old_pid = haproxy.worker_pid()
    collectors = [HAProxyCollector(haproxy.socket_path), HostCollector(["lo"])]
    sampler = Sampler(run, collectors, interval_s=LONG).start()
    haproxy.get(10)
    sampler.sample_now()

    haproxy.stop()
    sampler.sample_now()
    sampler.sample_now()
    new_pid = haproxy.restart()
    haproxy.get(3)
    sampler.sample_now()
    sampler.stop()

    gaps = run.read_table("gaps")
    assert gaps["sample"].tolist() == [3, 4]
    assert set(gaps["collector"]) == {"haproxy"}
    assert all(str(haproxy.socket_path) in reason for reason in gaps["reason"])
    assert run.read_table("host_memory")["ts_mono"].is_monotonic_increasing
    assert len(run.read_table("host_memory")) == 6
    (event,) = run.manifest()["events"]
    assert event["kind"] == "haproxy_reload"
    assert f"Pid {old_pid} -> {new_pid}" in event["message"]
    frontend = analysis.haproxy_rate(run).query("frontend == @haproxy.listener")
    assert frontend["requests"].tolist() == [10, 0]
