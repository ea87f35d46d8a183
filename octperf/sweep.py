"""Sweeps: one papermill-executed experiment notebook per step, one bed.

A sweep directory holds the plan and the state of every step, so a sweep
that was killed can resume where it stopped::

    data/sweeps/<UTC time>-<profile>-<short id>/
        sweep.json          versioned: base profile, steps, status of each
        steps/NN/profile.yaml       the step's whole profile
        steps/NN/experiment.ipynb   the executed notebook (kept on failure)
        steps/NN/runs/<run>/        the step's run directory
        bed/, logs/         the shared bed's configurations and process output
        analysis.json       the fit, knee and headroom (written by the report)
        private/bed.json    how steps attach to the bed (0600, holds a key)

The bed comes up once and stays up across steps, unless a step changes
what the bed renders (anything outside ``load``, ``scenario``, ``collect``):
then each step brings up its own bed.

Format history of ``sweep.json`` (``format_version``): 1, the first.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from octperf._atomic import write_json
from octperf._paths import shipped
from octperf.errors import ConfigError, ReportError, SweepError
from octperf.profile import Profile, override, profile_from_dict
from octperf.testbed import make_bed
from octperf.testbed._endpoints import BedState

log = logging.getLogger(__name__)

FORMAT_VERSION = 1

# Fields a step may change while the bed stays up.
LOAD_SECTIONS = ("load", "scenario", "collect")

StepCallback = Callable[["Step", int, Path], None]


@dataclass(frozen=True)
class Step:
    """One step of a sweep: the profile fields it sets (dotted paths)."""

    index: int
    params: dict[str, Any]

    @property
    def label(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.params.items())

    @property
    def directory_name(self) -> str:
        return f"{self.index:02d}"


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep: its directory, status and the steps' run directories."""

    sweep_dir: Path
    status: str
    run_dirs: list[Path]


def plan(profile: Profile, users: list[int] | None = None) -> list[Step]:
    """The steps of a sweep: ``--users`` if given, else the profile's sweep.

    Every step's profile is validated here, so a wrong field path or value
    fails before anything starts.
    """
    if users:
        params = [{"load.users": n} for n in users]
    elif profile.sweep.matrix:
        fields = list(profile.sweep.matrix)
        combos = itertools.product(*profile.sweep.matrix.values())
        params = [dict(zip(fields, combo, strict=True)) for combo in combos]
    else:
        params = [dict(step) for step in profile.sweep.steps]
    if not params:
        raise ConfigError(
            f"profile {profile.name} has no sweep: give --users 10,50,100 or a "
            "sweep section with steps or matrix (docs/profiles.md)"
        )
    steps = [Step(n, p) for n, p in enumerate(params, start=1)]
    for step in steps:
        step_profile(profile, step)
    return steps


def step_profile(profile: Profile, step: Step) -> Profile:
    """``profile`` with the step's fields set, validated."""
    return override(profile, step.params, f"sweep step {step.index} ({step.label})")


def run_sweep(
    profile: Profile,
    data_dir: Path,
    users: list[int] | None = None,
    on_step: StepCallback | None = None,
) -> SweepOutcome:
    """Plan and run a new sweep under ``data_dir/sweeps``."""
    steps = plan(profile, users)
    sweep_dir = _create(profile, steps, Path(data_dir))
    log.info("sweep %s: %d steps", sweep_dir, len(steps))
    return _execute(sweep_dir, on_step)


def resume_sweep(sweep_dir: Path, on_step: StepCallback | None = None) -> SweepOutcome:
    """Run the steps of ``sweep_dir`` that have not completed."""
    state = read_state(sweep_dir)
    pending = [s for s in state["steps"] if s["status"] != "complete"]
    log.info(
        "resuming %s: %d of %d steps left", sweep_dir, len(pending), len(state["steps"])
    )
    return _execute(Path(sweep_dir), on_step)


def read_state(sweep_dir: Path) -> dict[str, Any]:
    """The sweep's ``sweep.json``; SweepError when absent or unknown."""
    path = Path(sweep_dir) / "sweep.json"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SweepError(
            f"{path} is missing or unreadable ({error}): give a directory "
            "under data/sweeps/"
        ) from None
    if state.get("format_version") != FORMAT_VERSION:
        raise SweepError(
            f"{path} has format_version {state.get('format_version')!r}; this "
            f"octperf reads {FORMAT_VERSION}"
        )
    return state


# running -----------------------------------------------------------------


def _execute(sweep_dir: Path, on_step: StepCallback | None) -> SweepOutcome:
    state = read_state(sweep_dir)
    base = profile_from_dict(state["profile"], source=str(sweep_dir / "sweep.json"))
    steps = [Step(s["index"], s["params"]) for s in state["steps"]]
    _update(sweep_dir, status="running", runner_pid=os.getpid())
    status = "failed"
    try:
        _run_steps(sweep_dir, base, steps, on_step)
        status = "complete"
    except KeyboardInterrupt:
        status = "incomplete"
        raise
    finally:
        _update(sweep_dir, status=status, ended_at=_now())
        log.info("sweep %s: %s", status, sweep_dir)
    return SweepOutcome(sweep_dir, status, step_run_dirs(sweep_dir))


def _run_steps(
    sweep_dir: Path, base: Profile, steps: list[Step], on_step: StepCallback | None
) -> None:
    done = {
        s["index"] for s in read_state(sweep_dir)["steps"] if s["status"] == "complete"
    }
    pending = [step for step in steps if step.index not in done]
    shared = all(_keeps_bed(step) for step in steps)
    with _bed_for(sweep_dir, base, shared and bool(pending)) as state_file:
        for position, step in enumerate(pending):
            if position:
                time.sleep(base.sweep.cooldown_s)
            if on_step is not None:
                on_step(step, len(steps), _step_dir(sweep_dir, step))
            _run_step(sweep_dir, base, step, state_file)


@contextlib.contextmanager
def _bed_for(sweep_dir: Path, base: Profile, shared: bool) -> Iterator[Path | None]:
    """A bed that stays up for all steps (its state file), or None."""
    if not shared:
        yield None
        return
    bed = make_bed(base, sweep_dir)
    state_file = sweep_dir / "private" / "bed.json"
    with bed as endpoints:
        BedState(endpoints, bed.versions()).save(state_file)
        try:
            yield state_file
        finally:
            state_file.unlink(missing_ok=True)


def _run_step(
    sweep_dir: Path, base: Profile, step: Step, state_file: Path | None
) -> None:
    from octperf.report import execute_notebook  # imports papermill: slow

    directory = _step_dir(sweep_dir, step)
    profile_path = directory / "profile.yaml"
    profile = step_profile(base, step)
    profile_path.write_text(yaml.safe_dump(profile.model_dump(mode="json")))
    _mark(sweep_dir, step, status="running", started_at=_now())
    parameters = {
        "profile_path": str(profile_path),
        "bed_state": str(state_file) if state_file else "",
        "data_dir": str(directory),
    }
    log.info("step %d (%s) started", step.index, step.label)
    try:
        execute_notebook(
            shipped("notebooks/experiment.ipynb"),
            directory / "experiment.ipynb",
            parameters,
        )
    except ReportError as error:
        _mark(sweep_dir, step, status="failed", error=str(error))
        raise SweepError(f"sweep step {step.index} ({step.label}): {error}") from None
    except KeyboardInterrupt:
        _mark(sweep_dir, step, status="incomplete")
        raise
    _finish_step(sweep_dir, step, directory)


def _finish_step(sweep_dir: Path, step: Step, directory: Path) -> None:
    runs = sorted((directory / "runs").glob("*/manifest.json"))
    if not runs:
        _mark(sweep_dir, step, status="failed", error="no run directory")
        raise SweepError(f"sweep step {step.index} left no run in {directory}")
    run_dir = runs[-1].parent
    _mark(sweep_dir, step, status="complete", run_dir=str(run_dir), ended_at=_now())
    log.info("step %d (%s) complete: %s", step.index, step.label, run_dir)


def step_run_dirs(sweep_dir: Path) -> list[Path]:
    """Run directories of the completed steps, in step order."""
    steps = read_state(sweep_dir)["steps"]
    return [Path(s["run_dir"]) for s in steps if s["status"] == "complete"]


# the sweep directory -------------------------------------------------------


def _create(profile: Profile, steps: list[Step], data_dir: Path) -> Path:
    started = datetime.now(timezone.utc)
    name = f"{started:%Y%m%dT%H%M%SZ}-{profile.name}-{secrets.token_hex(3)}"
    sweep_dir = (data_dir / "sweeps" / name).resolve()
    sweep_dir.mkdir(parents=True)
    state = {
        "format_version": FORMAT_VERSION,
        "sweep_id": name,
        "status": "running",
        "started_at": started.isoformat(timespec="seconds"),
        "ended_at": None,
        "profile": profile.model_dump(mode="json"),
        "steps": [
            {"index": s.index, "params": s.params, "status": "pending", "run_dir": None}
            for s in steps
        ],
    }
    write_json(sweep_dir / "sweep.json", state)
    return sweep_dir


def _update(sweep_dir: Path, **fields: Any) -> None:
    state = read_state(sweep_dir)
    state.update(fields)
    write_json(sweep_dir / "sweep.json", state)


def _mark(sweep_dir: Path, step: Step, **fields: Any) -> None:
    state = read_state(sweep_dir)
    for entry in state["steps"]:
        if entry["index"] == step.index:
            entry.update(fields)
    write_json(sweep_dir / "sweep.json", state)


def _step_dir(sweep_dir: Path, step: Step) -> Path:
    directory = sweep_dir / "steps" / step.directory_name
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _keeps_bed(step: Step) -> bool:
    return all(path.split(".")[0] in LOAD_SECTIONS for path in step.params)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
