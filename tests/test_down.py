"""octperf down --force: what a SIGKILLed run left is found and removed by id."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.conftest import skip_reason
from tests.helpers import assert_gone, wait_for_locust_rows

pytestmark = pytest.mark.slow

BED_NAMESPACES = {"amphora-haproxy", "octperf-members", "octperf-loadgen"}


def _killed_run(tmp_path: Path, testbed: str) -> Path:
    """Start a long run, SIGKILL octperf once Locust is running; its run dir."""
    profile = tmp_path / "p.yaml"
    profile.write_text(
        f"name: killed\ntestbed: {testbed}\n"
        "load: {users: 4, spawn_rate: 4, duration_s: 60, workers: 1}\n"
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
    child = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        run_dir = wait_for_locust_rows(tmp_path / "data", 2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return run_dir


def _down(tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "octperf.cli",
            "down",
            "--force",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(autouse=True)
def _always_down(tmp_path: Path):
    """Whatever a test asserts, what it left is cleaned up after it."""
    yield
    _down(tmp_path)


def test_down_force_stops_what_a_killed_local_run_left(tmp_path: Path) -> None:
    """HAProxy, nginx and Locust outlive a SIGKILLed octperf; down --force ends them."""
    run_dir = _killed_run(tmp_path, "local")
    pids = _recorded_pids(run_dir)
    assert len(pids) >= 6  # HAProxy, three nginx members, Locust master, a worker

    done = _down(tmp_path)

    assert done.returncode == 0, done.stderr
    assert "stopped haproxy" in done.stdout
    assert_gone(pids)
    socket = json.loads((run_dir / "manifest.json").read_text())["bed"]["stats_socket"]
    assert not Path(socket).parent.exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert "nothing to clean" in _down(tmp_path).stdout


def test_down_force_removes_a_killed_amphora_beds_namespaces(tmp_path: Path) -> None:
    """Namespaces, guard routes and everything inside them go, by the ledger."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    run_dir = _killed_run(tmp_path, "amphora")
    pids = _recorded_pids(run_dir)

    done = _down(tmp_path)

    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert not BED_NAMESPACES & {line.split()[0] for line in listed.splitlines()}
    routes = subprocess.run(
        ["ip", "route", "show"], capture_output=True, text=True, check=True
    ).stdout
    assert "203.0.113.0/24" not in routes and "198.51.100.0/24" not in routes
    assert_gone(pids)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"


def _recorded_pids(run_dir: Path) -> list[int]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    pids = [p["pid"] for p in manifest["bed"]["processes"]]
    return pids + [p["pid"] for p in manifest["load"]["processes"]]
