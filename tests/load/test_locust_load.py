"""LocustLoad against a real nginx: counts, connections, percentiles, cleanup."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hdrh.histogram import HdrHistogram

from octperf.errors import LoadError
from octperf.load import LoadResult, LocustLoad
from octperf.profile import profile_from_dict
from octperf.store import RunDir, create_run

from .conftest import Nginx, NginxCounters

USERS = 6
WORKERS = 2
DURATION_S = 6


@dataclass
class LoadRun:
    """One finished load and nginx's counters around it."""

    result: LoadResult
    run: RunDir
    before: NginxCounters
    after: NginxCounters
    pids: dict[str, int]

    @property
    def nginx_requests(self) -> int:
        # The second stub_status read counts itself as a request.
        return self.after.requests - self.before.requests - 1

    @property
    def nginx_accepts(self) -> int:
        return self.after.accepts - self.before.accepts - 1


def make_load(nginx: Nginx, data_dir: Path, **sections: Any) -> LocustLoad:
    load = {"users": USERS, "spawn_rate": 100, "duration_s": DURATION_S}
    profile = profile_from_dict({"name": "loadtest", "load": load, **sections})
    run = create_run(data_dir, "loadtest")
    return LocustLoad(profile, nginx.url, run, workers=WORKERS)


def run_load(nginx: Nginx, data_dir: Path, **sections: Any) -> LoadRun:
    load = make_load(nginx, data_dir, **sections)
    before = nginx.counters()
    try:
        load.start()
        result = load.wait()
    finally:
        load.stop()
    return LoadRun(result, load.run_dir, before, nginx.counters(), load.processes())


@pytest.fixture(scope="module")
def keep_alive(nginx: Nginx, tmp_path_factory: pytest.TempPathFactory) -> LoadRun:
    return run_load(nginx, tmp_path_factory.mktemp("keep-alive"))


@pytest.fixture(scope="module")
def no_keep_alive(nginx: Nginx, tmp_path_factory: pytest.TempPathFactory) -> LoadRun:
    scenario = {"keep_alive": False}
    return run_load(nginx, tmp_path_factory.mktemp("close"), scenario=scenario)


def test_locust_histograms_and_nginx_count_the_same_requests(keep_alive: LoadRun):
    """Locust's total, the merged histograms and nginx's counter agree exactly."""
    result = keep_alive.result
    assert result.requests > 1000
    assert result.hdr_requests == result.requests
    assert result.failures == result.hdr_failures == 0
    assert result.successes == result.requests
    assert keep_alive.nginx_requests == result.requests


def test_per_second_rows_sum_to_the_totals(keep_alive: LoadRun):
    """The locust and locust_hdr tables hold every request, once per second."""
    rows = keep_alive.run.read_table("locust")
    hdr_rows = keep_alive.run.read_table("locust_hdr")
    assert rows["requests"].sum() == keep_alive.result.requests
    assert rows["failures"].sum() == 0
    assert list(rows["ts"]) == list(range(rows["ts"].min(), rows["ts"].max() + 1))
    assert list(hdr_rows["ts"]) == list(rows["ts"])
    assert list(hdr_rows["count"]) == list(rows["requests"])
    assert DURATION_S - 1 <= len(rows) <= DURATION_S + 2


def test_hdr_rows_decode_to_their_counts_and_merge_to_the_total(keep_alive: LoadRun):
    """Each stored histogram decodes to its row's count; together they make the run."""
    merged = HdrHistogram(1, 3_600_000_000, 3)
    for row in keep_alive.run.read_table("locust_hdr").itertuples():
        second = HdrHistogram.decode(row.hdr)
        assert second.get_total_count() == row.count
        merged.add(second)
    total = keep_alive.result.histogram()
    assert merged.get_total_count() == total.get_total_count()
    assert merged.get_value_at_percentile(99) == total.get_value_at_percentile(99)


def test_result_percentiles_are_ordered_and_match_the_stored_histogram(
    keep_alive: LoadRun,
):
    """p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max, each as a decode of ``hdr`` gives it."""
    result = keep_alive.result
    histogram = result.histogram()
    ordered = [
        result.latency_p50_ms,
        result.latency_p90_ms,
        result.latency_p99_ms,
        result.latency_p999_ms,
        result.latency_max_ms,
    ]
    assert 0 < ordered[0] <= ordered[1] <= ordered[2] <= ordered[3] <= ordered[4]
    for percentile, value in zip((50, 90, 99, 99.9), ordered, strict=False):
        assert value == round(histogram.get_value_at_percentile(percentile) / 1000, 3)
    assert result.latency_max_ms == round(histogram.get_max_value() / 1000, 3)


def test_per_second_percentiles_are_ordered(keep_alive: LoadRun):
    """In every second with requests, p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max."""
    rows = keep_alive.run.read_table("locust")
    rows = rows[rows["requests"] > 0]
    columns = ["latency_p50_ms", "latency_p90_ms", "latency_p99_ms"]
    columns += ["latency_p999_ms", "latency_max_ms"]
    assert (rows[columns].diff(axis=1).iloc[:, 1:] >= 0).all().all()


def test_result_describes_the_run(keep_alive: LoadRun):
    """The result names Locust's version, the workers and a load window of -t."""
    result = keep_alive.result
    assert result.locust_version == LocustLoad.version()
    assert result.workers == WORKERS
    assert result.exit_code == 0
    assert result.late_rows == 0
    assert DURATION_S <= result.ended_at - result.started_at <= DURATION_S + 3
    assert result.first_second >= int(result.started_at)
    assert result.last_second <= result.ended_at


def test_keep_alive_reuses_one_connection_per_user(keep_alive: LoadRun):
    """With keep-alive nginx accepts about one connection per user, not per request."""
    assert USERS <= keep_alive.nginx_accepts <= USERS + 2


def test_keep_alive_off_opens_a_connection_per_request(no_keep_alive: LoadRun):
    """With Connection: close every request is a new accepted connection."""
    requests = no_keep_alive.result.requests
    assert requests > 300
    assert no_keep_alive.nginx_requests == requests
    assert requests <= no_keep_alive.nginx_accepts <= requests + USERS


def test_no_locust_process_is_left_after_wait(keep_alive, no_keep_alive):
    """Every PID the load started, and its process group, is gone afterwards."""
    pids = [*keep_alive.pids.values(), *no_keep_alive.pids.values()]
    assert len(pids) == 2 * (WORKERS + 1)
    roles = {"locust-master", "locust-worker-1", "locust-worker-2"}
    assert set(keep_alive.pids) == roles
    assert _running_in_groups(pids) == []


def test_failed_requests_are_data_not_errors(nginx: Nginx, tmp_path: Path):
    """A 404 on every request counts as failures; wait() still returns the result."""
    short = {"users": 2, "spawn_rate": 100, "duration_s": 3}
    loaded = run_load(nginx, tmp_path, load=short, scenario={"object_size": "64k"})
    result = loaded.result
    assert result.exit_code == 1
    assert result.requests > 0
    assert result.failures == result.hdr_failures == result.requests
    assert result.successes == 0
    assert loaded.run.read_table("locust")["failures"].sum() == result.failures


def test_think_time_paces_each_user(nginx: Nginx, tmp_path: Path):
    """With 0.5 s think time a user makes about two requests a second."""
    paced = {"users": 2, "spawn_rate": 100, "duration_s": 4}
    loaded = run_load(nginx, tmp_path, load=paced, scenario={"think_time_s": 0.5})
    # 2 users * 4 s / 0.5 s = 16, plus the first request of each user.
    assert 12 <= loaded.result.requests <= 18
    assert loaded.nginx_requests == loaded.result.requests


def test_a_ramp_up_longer_than_the_run_ends_with_the_run(nginx, tmp_path):
    """Spawn messages Locust sends after the stop start no requests."""
    # 20 users at 2/s would take 10 s to spawn; the run lasts 3 s.
    ramp = {"users": 20, "spawn_rate": 2, "duration_s": 3}
    pace = {"think_time_s": 0.2}
    loaded = run_load(nginx, tmp_path, load=ramp, scenario=pace)
    rows = loaded.run.read_table("locust")
    assert loaded.result.late_rows == 0
    assert rows["ts"].is_unique
    assert rows["ts"].max() <= loaded.result.ended_at
    assert loaded.nginx_requests == loaded.result.requests == rows["requests"].sum()


def test_stop_during_the_load_still_collects_every_request(nginx, tmp_path):
    """stop() mid-run lets the master gather the workers' last seconds."""
    long = {"users": USERS, "spawn_rate": 100, "duration_s": 60}
    load = make_load(nginx, tmp_path, load=long)
    before = nginx.counters()
    load.start()
    try:
        _await_rows(load.run_dir, 3, timeout_s=30)
    finally:
        load.stop()
        load.stop()
    result = LoadResult.read(load.result_path)
    assert result.requests > 0
    assert result.hdr_requests == result.requests
    assert nginx.counters().requests - before.requests - 1 == result.requests
    assert load.run_dir.read_table("locust")["requests"].sum() == result.requests
    assert _running_in_groups(list(load.processes().values())) == []


def test_master_that_cannot_start_raises_load_error_with_its_log(
    nginx: Nginx, tmp_path: Path
):
    """A broken locustfile makes wait() raise LoadError quoting the master's log."""
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('deliberately broken locustfile')\n")
    profile = profile_from_dict({"name": "broken", "load": {"duration_s": 2}})
    run = create_run(tmp_path, "broken")
    load = LocustLoad(profile, nginx.url, run, locustfile=broken, workers=1)
    load.start()
    with pytest.raises(LoadError, match="deliberately broken"):
        load.wait(timeout_s=60)
    assert _running_in_groups(list(load.processes().values())) == []


def _await_rows(run: RunDir, count: int, timeout_s: float) -> pd.DataFrame:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = run.read_table("locust")
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} locust rows after {timeout_s} s")


def _running_in_groups(groups: list[int]) -> list[int]:
    """Live (non-zombie) processes that are, or are in the group of, ``groups``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, pgid = fields[0], int(fields[2])
        if (pgid in groups or int(entry.name) in groups) and state != "Z":
            found.append(int(entry.name))
    return found
