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
from octperf.collectors._sampler import Event, next_tick
from octperf.errors import CollectorError
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


class Flaky:
    """A collector that returns one row per call and raises on chosen calls."""

    def __init__(self, name: str, fail_on: dict[int, Exception]) -> None:
        self.name = name
        self.calls = 0
        self.fail_on = fail_on

    def sample(self, ts: float) -> dict[str, list[dict]]:
        self.calls += 1
        if self.calls in self.fail_on:
            raise self.fail_on[self.calls]
        return {self.name: [{"ts": ts, "call": self.calls}]}


class Reporting(Counting):
    """A Counting collector that also reports one event on chosen calls."""

    def __init__(self, events_on=()) -> None:
        super().__init__("reporting")
        self.events_on = set(events_on)
        self.taken = 0

    def take_events(self) -> list[Event]:
        self.taken += 1
        if self.calls not in self.events_on:
            return []
        return [Event("thing_happened", f"at call {self.calls}")]


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
        "gaps": 0,
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
    assert run.table_rows()["gaps"] == sampler.samples
    assert "haproxy_stat" not in run.table_rows()
    messages = [record.getMessage() for record in caplog.records]
    assert sum("no-such.sock" in message for message in messages) == 1
    assert [r.levelname for r in caplog.records] == ["WARNING"]  # no traceback


def test_each_distinct_error_is_logged_once_and_all_are_counted(run, caplog):
    """Repeats are counted, not logged; a new message is logged again."""
    failures = [
        CollectorError("socket gone"),
        CollectorError("socket gone"),
        CollectorError("no answer"),
    ]
    collector = Counting(failures=failures)
    sampler = Sampler(run, [collector], interval_s=LONG)

    with caplog.at_level(logging.WARNING, logger="octperf.collectors._sampler"):
        for _ in range(4):
            sampler.sample_now()

    assert sampler.errors == {"counting": 3}
    suffix = "(stored in table gaps; sampling goes on; repeats are not logged)"
    assert [r.getMessage() for r in caplog.records] == [
        f"collector counting failed: CollectorError: socket gone {suffix}",
        f"collector counting failed: CollectorError: no answer {suffix}",
    ]
    assert run.table_rows() == {"counting": 1, "gaps": 3}


def test_every_row_has_ts_then_ts_mono_of_its_sample(run):
    """The Sampler stamps ``ts_mono`` second in every table, the same per sample."""
    collectors = [Counting("a"), Flaky("b", {}), HostCollector(["lo"])]
    sampler = Sampler(run, collectors, interval_s=LONG)

    for _ in range(3):
        sampler.sample_now()

    stamps = {}
    for table in ("counting", "b", "host_cpu", "host_memory", "host_net"):
        frame = run.read_table(table)
        assert frame.columns[:2].tolist() == ["ts", "ts_mono"], table
        stamps[table] = frame.drop_duplicates("ts")[["ts", "ts_mono"]]
        assert stamps[table]["ts_mono"].is_monotonic_increasing
    first = stamps.pop("counting")
    for frame in stamps.values():
        assert frame.to_numpy().tolist() == first.to_numpy().tolist()
    assert len(first) == 3


def test_failures_of_samples_3_to_5_are_three_gap_rows_with_their_reason(run):
    """Each failed sample is one gap row; the other collector misses nothing."""
    fail_on = {n: CollectorError(f"agent did not answer (try {n})") for n in (3, 4)}
    fail_on[5] = CollectorError("agent refused the certificate")
    sampler = Sampler(run, [Flaky("agent", fail_on), Flaky("host", {})], LONG)

    for _ in range(7):
        sampler.sample_now()

    gaps = run.read_table("gaps")
    assert gaps.columns.tolist() == [
        *("ts", "ts_mono", "sample", "collector", "error", "reason")
    ]
    assert gaps["sample"].tolist() == [3, 4, 5]
    assert set(gaps["collector"]) == {"agent"}
    assert set(gaps["error"]) == {"CollectorError"}
    assert gaps["reason"].tolist() == [
        "agent did not answer (try 3)",
        "agent did not answer (try 4)",
        "agent refused the certificate",
    ]
    assert run.read_table("agent")["call"].tolist() == [1, 2, 6, 7]
    assert run.read_table("host")["call"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    host_stamps = run.read_table("host").set_index("call")["ts_mono"]
    assert gaps["ts_mono"].tolist() == host_stamps[[3, 4, 5]].tolist()
    assert sampler.errors == {"agent": 3, "host": 0}


def test_a_bug_in_a_collector_does_not_stop_the_sampler(run, caplog):
    """A non-Octperf exception is logged once with its traceback; sampling goes on."""
    buggy = Flaky("buggy", {n: KeyError("cpu") for n in range(1, 1000)})
    healthy = Counting()
    sampler = Sampler(run, [buggy, healthy], interval_s=0.02)
    caplog.set_level(logging.DEBUG, logger="octperf.collectors._sampler")

    with sampler:
        _wait_for(lambda: sampler.samples >= 5)
        assert sampler._thread is not None and sampler._thread.is_alive()

    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert errors[0].levelname == "ERROR"
    assert errors[0].exc_info is not None
    assert "KeyError: 'cpu'" in errors[0].getMessage()
    assert healthy.calls == sampler.samples == buggy.calls
    gaps = run.read_table("gaps")
    assert gaps["sample"].tolist() == list(range(1, sampler.samples + 1))
    assert set(gaps["error"]) == {"KeyError"}
    assert run.table_rows()["counting"] == sampler.samples


def test_a_run_without_failures_has_an_empty_gaps_table(run):
    """start() creates the table, so "no gap" differs from "not recorded"."""
    with Sampler(run, [Counting()], interval_s=LONG):
        pass

    assert run.table_rows()["gaps"] == 0
    assert run.read_table("gaps").columns.tolist() == [
        *("ts", "ts_mono", "sample", "collector", "error", "reason")
    ]


def test_a_recovered_collector_is_logged_once_at_info(run, caplog):
    """After its failures the collector says once that it answers again."""
    fail_on = {n: CollectorError("down") for n in (2, 3)}
    sampler = Sampler(run, [Flaky("agent", fail_on)], interval_s=LONG)

    with caplog.at_level(logging.INFO, logger="octperf.collectors._sampler"):
        for _ in range(5):
            sampler.sample_now()

    infos = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert infos == ["collector agent answers again after 2 failed samples"]


def test_events_a_collector_reports_are_recorded_once_each(run):
    """take_events() is asked after each good sample; each event lands once."""
    collector = Reporting(events_on={2, 4})
    sampler = Sampler(run, [collector], interval_s=LONG)

    for _ in range(5):
        sampler.sample_now()

    events = run.manifest()["events"]
    assert [(e["kind"], e["message"]) for e in events] == [
        ("thing_happened", "at call 2"),
        ("thing_happened", "at call 4"),
    ]
    assert collector.taken == 5


def test_events_from_the_sampler_thread_survive_manifest_updates(run):
    """The main thread's updates and the thread's events lose nothing."""
    collector = Reporting(events_on=range(1, 10_000))
    sampler = Sampler(run, [collector], interval_s=0.002)

    with sampler:
        for step in range(200):
            run.update_manifest(step=step)

    manifest = run.manifest()
    assert manifest["step"] == 199
    messages = [e["message"] for e in manifest["events"]]
    assert messages == [f"at call {n}" for n in range(1, collector.calls + 1)]


def test_a_failing_event_source_does_not_stop_sampling(run, caplog):
    """An exception from take_events() is logged; rows keep coming."""
    collector = Counting()
    collector.take_events = lambda: 1 / 0  # type: ignore[attr-defined]
    sampler = Sampler(run, [collector], interval_s=LONG)

    with caplog.at_level(logging.ERROR, logger="octperf.collectors._sampler"):
        for _ in range(3):
            sampler.sample_now()

    assert run.table_rows() == {"counting": 3}
    assert len(caplog.records) == 1
    assert "ZeroDivisionError" in caplog.records[0].getMessage()


def test_start_samples_at_once_and_stop_samples_once_more(run):
    """With a long interval, the samples are exactly the first and the last."""
    collector = Counting()
    sampler = Sampler(run, [collector], interval_s=LONG)

    sampler.start()
    assert collector.calls == 1
    sampler.stop()

    assert collector.calls == 2
    assert run.table_rows() == {"counting": 2, "gaps": 0}


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
        assert run.table_rows()["counting"] == 1
        sampler.sample_now()
        assert run.table_rows()["counting"] == 2
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
