"""Sweeps: planning, a whole sweep on the local bed, resuming a killed one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from octperf import api
from octperf.errors import ConfigError
from octperf.sweep import plan, read_state, step_profile
from tests.helpers import assert_gone, small_profile


def test_users_become_one_step_each() -> None:
    """--users 10,50 plans two steps that set load.users."""
    steps = plan(small_profile("p"), users=[10, 50])
    assert [s.params for s in steps] == [{"load.users": 10}, {"load.users": 50}]
    assert step_profile(small_profile("p"), steps[1]).load.users == 50


def test_a_matrix_gives_every_combination_first_field_slowest() -> None:
    """Two fields of two values make four steps in a fixed order."""
    profile = small_profile(
        "m",
        sweep={"matrix": {"load.users": [5, 10], "scenario.keep_alive": [True, False]}},
    )
    params = [s.params for s in plan(profile)]
    assert params == [
        {"load.users": 5, "scenario.keep_alive": True},
        {"load.users": 5, "scenario.keep_alive": False},
        {"load.users": 10, "scenario.keep_alive": True},
        {"load.users": 10, "scenario.keep_alive": False},
    ]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            [{"load.userz": 3}],
            r"sweep step 1 \(load\.userz=3\): load\.userz names no profile field",
        ),
        ([{"load.users": 0}], r"sweep step 1 \(load\.users=0\).*load\.users"),
        ([], r"has no sweep"),
    ],
)
def test_bad_sweeps_are_refused_before_anything_starts(steps, expected) -> None:
    """A wrong path or value names the step; an empty sweep says what to give."""
    with pytest.raises(ConfigError, match=expected):
        plan(small_profile("bad", sweep={"steps": steps}))


@pytest.mark.slow
def test_a_six_step_sweep_finishes_with_its_report(tmp_path: Path) -> None:
    """Six steps on one bed: six complete runs, a report with the fit's plot."""
    profile = small_profile(
        "six", load={"duration_s": 4, "workers": 1}, sweep={"cooldown_s": 0}
    )
    result = api.sweep(
        profile, tmp_path / "data", tmp_path / "reports", users=[1, 2, 4, 8, 16, 32]
    )

    assert result.status == "complete"
    assert len(result.run_dirs) == 6
    state = read_state(result.sweep_dir)
    assert [s["status"] for s in state["steps"]] == ["complete"] * 6
    for step in state["steps"]:
        executed = result.sweep_dir / "steps" / f"{step['index']:02d}"
        notebook = nbformat.read(executed / "experiment.ipynb", as_version=4)
        assert notebook.metadata["papermill"]["parameters"]["bed_state"]
    bed_pids = _bed_pids(result.sweep_dir)
    assert len({_bed_of(run) for run in result.run_dirs}) == 1
    assert_gone(bed_pids)
    html = result.report.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64") >= 4  # fit, latency x2, residuals
    assert "<script src" not in html
    analysis = json.loads((result.sweep_dir / "analysis.json").read_text())
    assert analysis["fit"]["lambda"]["value"] > 0
    assert set(analysis) == {"format_version", "fit", "knee", "headroom", "problems"}


@pytest.mark.slow
def test_a_killed_sweep_resumes_with_the_remaining_steps(tmp_path: Path) -> None:
    """Stopped after step 3 of 4: resume runs step 4 only, keeps steps 1-3."""
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "name: resumed\nload: {users: 4, spawn_rate: 10, duration_s: 3, workers: 1}\n"
        "sweep: {cooldown_s: 30, steps: [{load.users: 1}, {load.users: 2},"
        " {load.users: 3}, {load.users: 4}]}\n"
    )
    command = [
        sys.executable,
        "-m",
        "octperf.cli",
        "sweep",
        str(profile),
        "--data-dir",
        str(tmp_path / "data"),
        "--no-report",
    ]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        sweep_dir = _wait_for_steps(tmp_path / "data", complete=3)
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    before = read_state(sweep_dir)
    assert [s["status"] for s in before["steps"]][3] != "complete"
    assert before["status"] == "incomplete"
    assert_gone(_bed_pids(sweep_dir))
    kept = {s["index"]: s["run_dir"] for s in before["steps"][:3]}

    result = api.sweep(None, resume=sweep_dir, with_report=False)

    after = read_state(sweep_dir)
    assert result.status == "complete"
    assert {s["index"]: s["run_dir"] for s in after["steps"][:3]} == kept
    assert after["steps"][3]["status"] == "complete"
    assert len(list(sweep_dir.glob("steps/*/runs/*/manifest.json"))) == 4


def _wait_for_steps(data: Path, complete: int) -> Path:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for path in data.glob("sweeps/*/sweep.json"):
            try:
                steps = json.loads(path.read_text())["steps"]
            except ValueError:
                continue
            if sum(s["status"] == "complete" for s in steps) >= complete:
                return path.parent
        time.sleep(0.5)
    raise AssertionError(f"no sweep under {data} reached {complete} steps")


def _bed_pids(sweep_dir: Path) -> list[int]:
    """PIDs of the bed the sweep brought up, from its steps' manifests."""
    pids = set()
    for manifest in sweep_dir.glob("steps/*/runs/*/manifest.json"):
        bed = json.loads(manifest.read_text())["bed"]
        pids |= {p["pid"] for p in bed["processes"]}
    return sorted(pids)


def _bed_of(run_dir: Path) -> str:
    bed = json.loads((run_dir / "manifest.json").read_text())["bed"]
    return json.dumps(bed["processes"], sort_keys=True)
