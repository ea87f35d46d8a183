"""The whole chain on the local bed: real HAProxy, nginx and Locust.

Each run is a few seconds of load on 127.0.0.0/8; the assertions compare what
independent parts counted.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from octperf import api
from octperf.store import open_run
from tests.helpers import assert_gone, small_profile, wait_for_locust_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> api.RunReport:
    """One short run with its report, shared by the checks below."""
    base = tmp_path_factory.mktemp("chain")
    profile = small_profile("chain", load={"duration_s": 8})
    return api.run(profile, base / "data", base / "reports")


def test_locust_and_haproxy_count_the_same_requests(finished) -> None:
    """Locust's total and the frontend's req_tot increase agree within 1 %."""
    requests = finished.summary["requests"]
    client, haproxy = requests["client"]["total"], requests["haproxy"]["req_tot"]
    assert client > 100
    assert abs(haproxy - client) <= 0.01 * client
    assert requests["client"]["failures"] == 0
    assert finished.summary["status"] == "complete"


def test_the_manifest_is_complete_and_records_versions(finished) -> None:
    """Status complete, and HAProxy, nginx, Locust versions as they report."""
    manifest = open_run(finished.run_dir).manifest()
    assert manifest["status"] == "complete"
    versions = manifest["versions"]
    for name in ("haproxy", "nginx", "locust", "python", "octperf"):
        assert versions[name], name
    assert manifest["load"]["started_at"] < manifest["load"]["ended_at"]


def test_every_source_stored_rows_while_the_load_ran(finished) -> None:
    """Each table has rows; HAProxy was sampled about once a second."""
    samples = finished.summary["samples"]
    for source in ("haproxy_stat", "haproxy_info", "host_cpu", "process", "locust"):
        assert samples.get(source, 0) > 0, source
    run = open_run(finished.run_dir)
    info = run.read_table("haproxy_info")
    assert len(info) >= 6
    roles = set(run.read_table("process")["role"])
    assert {"haproxy", "member-1", "locust-master", "locust-worker-1"} <= roles


def test_per_second_client_counts_add_up_to_the_total(finished) -> None:
    """The merged per-second histograms hold every request Locust counted."""
    locust = open_run(finished.run_dir).read_table("locust")
    total = finished.summary["requests"]["client"]["total"]
    assert locust["requests"].sum() == total


def test_the_report_is_one_self_contained_file(finished) -> None:
    """The HTML exists, embeds its plots and fetches nothing."""
    html = finished.report.read_text(encoding="utf-8")
    assert finished.report.name == f"{finished.run_dir.name}.html"
    assert html.count("data:image/png;base64") >= 5
    assert "<script src" not in html
    assert 'src="http' not in html and 'href="http' not in html


def test_nothing_is_left_running_after_a_run(finished) -> None:
    """Every process the bed and the load started is gone."""
    manifest = open_run(finished.run_dir).manifest()
    pids = [p["pid"] for p in manifest["bed"]["processes"]]
    pids += [p["pid"] for p in manifest["load"]["processes"]]
    assert len(pids) >= 4 + 3
    assert_gone(pids)


def test_ctrl_c_stops_the_run_keeps_it_and_leaves_nothing(tmp_path: Path) -> None:
    """SIGINT twice mid-load: exit 130, run incomplete, every process gone."""
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "name: interrupted\nload: {users: 5, spawn_rate: 5, duration_s: 60}\n"
    )
    command = [
        sys.executable,
        "-m",
        "octperf.cli",
        "run",
        str(profile),
        "--data-dir",
        str(tmp_path / "data"),
        "--no-report",
    ]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        run_dir = wait_for_locust_rows(tmp_path / "data", 3)
        child.send_signal(signal.SIGINT)
        # An impatient second Ctrl-C must not cut the teardown short.
        time.sleep(0.5)
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert child.returncode == 130, stderr
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    pids = [p["pid"] for p in manifest["bed"]["processes"]]
    pids += [p["pid"] for p in manifest["load"]["processes"]]
    assert_gone(pids)
    locust_rows = open_run(run_dir).read_table("locust")["requests"].sum()
    assert locust_rows > 0
    # Locust writes its result when stopped: the summary keeps both counts.
    requests = json.loads((run_dir / "summary.json").read_text())["requests"]
    assert requests["client"]["total"] == locust_rows
    assert abs(requests["haproxy"]["req_tot"] - locust_rows) <= 0.01 * locust_rows
