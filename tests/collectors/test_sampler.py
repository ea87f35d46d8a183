"""The sampling loop: schedule, tables on disk, errors that do not stop it."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import psutil
import pytest

from octperf.collectors import (
    HAProxyCollector,
    HostCollector,
    ProcessCollector,
    Sampler,
)
from octperf.collectors._sampler import next_tick
from octperf.store import RunDir, create_run

LONG = 3600.0  # an interval no test waits for: only start() and stop() sample


class Counting:
    """A collector that returns one row per call and can fail on demand."""

    def __init__(self, name: str = "counting", failures=()) -> None:
        self.name = name
        self.calls = 0
        self.failures = list(failures)
        self.slow_call: int | None = None
        self.slow_s = 0.0

    def sample(self, ts: float) -> dict[str, list[dict]]:
        self.calls += 1
        if self.calls == self.slow_call:
            time.sleep(self.slow_s)
        if self.failures:
            raise self.failures.pop(0)
        return {"counting": [{"ts": ts, "call": self.calls}]}


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return create_run(tmp_path, "collectors")


def test_sampler_writes_rows_of_every_table_for_each_sample(run, haproxy):
    """Each sample adds one row per proxy/server, CPU, interface and process."""
    collectors = [
        HAProxyCollector(haproxy.socket_path),
        HostCollector(interfaces=["lo"]),
        ProcessCollector({"haproxy": haproxy.process.pid}),
    ]

    with Sampler(run, collectors, interval_s=0.05) as sampler:
        _wait_for(lambda: sampler.samples >= 4)
    samples = sampler.samples

    assert run.table_rows() == {
        "haproxy_stat": 4 * samples,
        "haproxy_info": samples,
        "host_cpu": (psutil.cpu_count() + 1) * samples,
        "host_memory": samples,
        "host_net": samples,
        "process": samples,
    }
    assert sampler.errors == {"haproxy": 0, "host": 0, "process": 0}


def test_ts_rises_and_is_shared_by_all_tables_of_a_sample(run, haproxy):
    """Samples have increasing ``ts``; every table carries the same ones."""
    collectors = [HAProxyCollector(haproxy.socket_path), HostCollector(["lo"])]

    with Sampler(run, collectors, interval_s=0.05) as sampler:
        _wait_for(lambda: sampler.samples >= 3)

    info_ts = list(run.read_table("haproxy_info")["ts"])
    assert len(info_ts) == sampler.samples
    assert info_ts == sorted(set(info_ts))
    for table in ("haproxy_stat", "host_cpu", "host_memory", "host_net"):
        ts = list(run.read_table(table)["ts"])
        assert ts == sorted(ts)
        assert sorted(set(ts)) == info_ts


def test_broken_socket_is_counted_while_the_host_keeps_being_sampled(
    run, tmp_path, caplog
):
    """A missing stats socket fails every haproxy sample; host rows still come."""
    broken = HAProxyCollector(tmp_path / "no-such.sock")
    host = HostCollector(["lo"])
    sampler = Sampler(run, [broken, host], interval_s=0.05)
    caplog.set_level(logging.WARNING, logger="octperf.collectors._sampler")

    with sampler:
        _wait_for(lambda: sampler.samples >= 3)

    assert sampler.errors == {"haproxy": sampler.samples, "host": 0}
    assert run.table_rows()["host_net"] == sampler.samples
    assert "haproxy_stat" not in run.table_rows()
    messages = [record.getMessage() for record in caplog.records]
    assert sum("no-such.sock" in message for message in messages) == 1


def test_each_distinct_error_is_warned_once_and_all_are_counted(run, caplog):
    """Repeats are counted, not logged; a new message is logged again."""
    failures = [OSError("disk gone"), OSError("disk gone"), ValueError("bad")]
    collector = Counting(failures=failures)
    sampler = Sampler(run, [collector], interval_s=LONG)

    with caplog.at_level(logging.WARNING, logger="octperf.collectors._sampler"):
        for _ in range(4):
            sampler.sample_now()

    assert sampler.errors == {"counting": 3}
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [
        "OSError: disk gone (sampling goes on; repeats are counted, not logged)",
        "ValueError: bad (sampling goes on; repeats are counted, not logged)",
    ]
    assert run.table_rows() == {"counting": 1}


def test_start_samples_at_once_and_stop_samples_once_more(run):
    """With a long interval, the samples are exactly the first and the last."""
    collector = Counting()
    sampler = Sampler(run, [collector], interval_s=LONG)

    sampler.start()
    assert collector.calls == 1
    sampler.stop()

    assert collector.calls == 2
    assert run.table_rows() == {"counting": 2}


def test_context_manager_starts_and_stops(run):
    """``with`` takes the first sample on entry and the last on exit."""
    collector = Counting()

    with Sampler(run, [collector], interval_s=LONG):
        assert collector.calls == 1

    assert collector.calls == 2


def test_stop_is_harmless_twice_or_before_start(run):
    """Stopping twice, or a sampler never started, takes no extra sample."""
    collector = Counting()
    sampler = Sampler(run, [collector], interval_s=LONG)
    sampler.stop()
    assert collector.calls == 0

    sampler.start()
    sampler.stop()
    sampler.stop()

    assert collector.calls == 2


def test_rows_are_on_disk_after_each_sample(run):
    """The table file holds every sample's rows before the sampler stops."""
    sampler = Sampler(run, [Counting()], interval_s=LONG)
    sampler.start()
    try:
        assert run.table_rows() == {"counting": 1}
        sampler.sample_now()
        assert run.table_rows() == {"counting": 2}
    finally:
        sampler.stop()


def test_overrunning_sample_skips_ticks_instead_of_bursting(run):
    """A sample that takes five intervals is followed by no catch-up burst."""
    collector = Counting()
    collector.slow_call, collector.slow_s = 2, 0.25  # the thread's first sample
    sampler = Sampler(run, [collector], interval_s=0.05)

    with sampler:
        _wait_for(lambda: collector.calls >= 3)

    assert sampler.skipped >= 4


def test_next_tick_is_the_first_one_after_now():
    """Ticks are counted from the origin; missed ones are jumped over."""
    assert next_tick(origin=100.0, interval_s=1.0, now=100.2) == 1
    assert next_tick(origin=100.0, interval_s=1.0, now=103.5) == 4
    assert next_tick(origin=100.0, interval_s=0.5, now=101.0) == 3


def test_sampler_refuses_shared_names_and_non_positive_intervals(run):
    """Error counts are per name, so names must differ; intervals must be > 0."""
    with pytest.raises(ValueError, match="distinct"):
        Sampler(run, [Counting("a"), Counting("a")], interval_s=1.0)
    with pytest.raises(ValueError, match="positive"):
        Sampler(run, [Counting()], interval_s=0)


def test_sampler_thread_is_a_daemon_and_ends_on_stop(run):
    """The thread never keeps the interpreter alive and is gone after stop."""
    sampler = Sampler(run, [Counting()], interval_s=LONG).start()
    thread = next(t for t in threading.enumerate() if t.name == "octperf-sampler")
    assert thread.daemon

    sampler.stop()

    assert not thread.is_alive()


def _wait_for(condition, timeout_s: float = 20.0) -> None:
    """Poll ``condition`` until true; fail the test if it never becomes so."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
