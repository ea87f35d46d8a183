"""The verbs notebooks and the CLI share: run, report, doctor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from octperf import doctor as _doctor
from octperf import runner
from octperf.profile import Profile, load_profile

log = logging.getLogger(__name__)

DATA_DIR = Path("data")
REPORTS_DIR = Path("reports")


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


def report(run_dir: str | Path, reports_dir: Path = REPORTS_DIR) -> Path:
    """(Re)render the HTML report of a run; returns its path."""
    from octperf.report import render_report  # imports papermill: slow

    return render_report(Path(run_dir), Path(reports_dir))


def doctor(profile: Profile | None = None) -> list[_doctor.Check]:
    """The checks of every bed this octperf knows."""
    return _doctor.check_local(profile) + _doctor.check_amphora()
