"""The verbs notebooks and the CLI share: run, sweep, report, doctor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from octperf import doctor as _doctor
from octperf import runner
from octperf import sweep as _sweep
from octperf.errors import ConfigError, TestbedError
from octperf.profile import Profile, load_profile
from octperf.testbed import ProcessBed, make_bed
from octperf.testbed._endpoints import BedState

log = logging.getLogger(__name__)

DATA_DIR = Path("data")
REPORTS_DIR = Path("reports")


@dataclass(frozen=True)
class SweepReport:
    """A finished sweep: its directory, status, step runs and report."""

    sweep_dir: Path
    status: str
    run_dirs: list[Path]
    report: Path | None


@dataclass(frozen=True)
class RunReport:
    """A finished run: its directory, its status, its summary and report."""

    run_dir: Path
    status: str
    summary: dict
    report: Path | None


def run(
    profile: Profile | str | Path,
    data_dir: Path = DATA_DIR,
    reports_dir: Path = REPORTS_DIR,
    with_report: bool = True,
    on_load_start: Callable[[float], None] | None = None,
) -> RunReport:
    """Run a profile (object or YAML path) once, then render its report."""
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    outcome = runner.execute(profile, Path(data_dir), on_load_start)
    path = report(outcome.run_dir, reports_dir) if with_report else None
    return RunReport(outcome.run_dir, outcome.status, outcome.summary, path)


def run_step(
    profile: Profile | str | Path,
    bed_state: str | Path | None = None,
    data_dir: Path = DATA_DIR,
) -> RunReport:
    """One run on a bed that is already up (a sweep's step), without a report.

    ``bed_state`` is the file a sweep writes for its steps; without it the
    step brings up its own bed, as ``run`` does.
    """
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    attached = BedState.load(Path(bed_state)) if bed_state else None
    outcome = runner.execute(profile, Path(data_dir), attached=attached)
    return RunReport(outcome.run_dir, outcome.status, outcome.summary, None)


def up(
    profile: Profile | str | Path, workdir: str | Path = DATA_DIR / "beds"
) -> ProcessBed:
    """Bring a bed up and keep it up (notebooks): run on it with ``run_on``.

    Take it down with ``bed.down()``; it is also taken down when the Python
    process ends normally, since every process it started is a child.
    """
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    bed = make_bed(profile, Path(workdir) / profile.name)
    bed.up()
    return bed


def run_on(
    bed: ProcessBed,
    profile: Profile | str | Path | None = None,
    data_dir: Path = DATA_DIR,
) -> RunReport:
    """One run on a bed from ``up`` (a changed load or scenario is fine; a
    change to what the bed renders needs a new bed)."""
    if bed.endpoints is None:
        raise TestbedError(f"the {bed.name} bed is not up: call octperf.api.up first")
    chosen = profile if profile is not None else bed.profile
    if not isinstance(chosen, Profile):
        chosen = load_profile(chosen)
    attached = BedState(bed.endpoints, bed.versions())
    outcome = runner.execute(chosen, Path(data_dir), attached=attached)
    return RunReport(outcome.run_dir, outcome.status, outcome.summary, None)


def sweep(
    profile: Profile | str | Path | None,
    data_dir: Path = DATA_DIR,
    reports_dir: Path = REPORTS_DIR,
    users: list[int] | None = None,
    resume: str | Path | None = None,
    with_report: bool = True,
    on_step: _sweep.StepCallback | None = None,
) -> SweepReport:
    """Run a sweep (or resume one), then render its report across steps."""
    if resume is not None:
        outcome = _sweep.resume_sweep(Path(resume), on_step)
    elif profile is None:
        raise ConfigError("give a profile to sweep, or a sweep directory to resume")
    else:
        if not isinstance(profile, Profile):
            profile = load_profile(profile)
        outcome = _sweep.run_sweep(profile, Path(data_dir), users, on_step)
    path = sweep_report(outcome.sweep_dir, reports_dir) if with_report else None
    return SweepReport(outcome.sweep_dir, outcome.status, outcome.run_dirs, path)


def sweep_report(sweep_dir: str | Path, reports_dir: Path = REPORTS_DIR) -> Path:
    """(Re)render the HTML report across a sweep's steps; returns its path."""
    from octperf.report import render_sweep_report  # imports papermill: slow

    return render_sweep_report(Path(sweep_dir), Path(reports_dir))


def report(run_dir: str | Path, reports_dir: Path = REPORTS_DIR) -> Path:
    """(Re)render the HTML report of a run; returns its path."""
    from octperf.report import render_report  # imports papermill: slow

    return render_report(Path(run_dir), Path(reports_dir))


def doctor(profile: Profile | None = None) -> list[_doctor.Check]:
    """The checks of every bed this octperf knows."""
    return _doctor.check_local(profile) + _doctor.check_amphora()
