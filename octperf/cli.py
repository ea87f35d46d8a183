"""The ``octperf`` command: a thin shell over ``octperf.api``.

Expected failures (OctperfError) print one line and exit 1; Ctrl-C exits
130 after the run has been stopped and kept; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from octperf import api
from octperf.doctor import ready
from octperf.errors import ConfigError, OctperfError
from octperf.profile import Profile, load_profile, profile_from_dict
from octperf.sweep import Step
from octperf.testbed import _leftovers

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Performance tests for the OpenStack Octavia amphora.",
)
console = Console(stderr=True)
out = Console()

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log every poll.")]
DataDir = Annotated[Path, typer.Option(help="Where run directories go.")]
ReportsDir = Annotated[Path, typer.Option(help="Where HTML reports go.")]


@app.command()
def doctor(verbose: Verbose = False) -> None:
    """Check this machine for each test bed and say what to do."""
    _configure_logging(verbose)
    checks = api.doctor()
    table = Table("bed", "check", "state", "found", "to do")
    colours = {"ok": "green", "warn": "yellow", "missing": "red"}
    for check in checks:
        state = f"[{colours[check.state]}]{check.state}[/]"
        table.add_row(check.testbed, check.name, state, check.found, check.action)
    out.print(table)
    for testbed in ("local", "amphora"):
        missing = [c for c in checks if c.testbed == testbed and c.state == "missing"]
        verdict = f"not ready ({len(missing)} missing)" if missing else "ready"
        out.print(f"{testbed} bed: {verdict}")
    if not ready(checks, "local"):
        raise typer.Exit(1)


@app.command()
def run(
    profile: Annotated[Path, typer.Argument(help="A profile YAML file.")],
    users: Annotated[int | None, typer.Option(help="Override load.users.")] = None,
    duration: Annotated[
        float | None, typer.Option(help="Override load.duration_s (seconds).")
    ] = None,
    testbed: Annotated[
        str | None,
        typer.Option(help="Override the profile's testbed (local, amphora)."),
    ] = None,
    data_dir: DataDir = api.DATA_DIR,
    reports_dir: ReportsDir = api.REPORTS_DIR,
    report: Annotated[bool, typer.Option(help="Render the HTML report.")] = True,
    verbose: Verbose = False,
) -> None:
    """One run: bed up, load, collect, bed down, report."""
    _configure_logging(verbose)
    with _expected_failures():
        loaded = load_profile(profile)
        loaded = _override(loaded, testbed=testbed, users=users, duration_s=duration)
        with _LoadProgress() as progress:
            result = api.run(loaded, data_dir, reports_dir, report, progress.start)
    out.print(f"run directory: {result.run_dir}")
    if result.report is not None:
        out.print(f"report: {result.report}")
    if result.status != "complete":
        raise typer.Exit(1)


@app.command()
def sweep(
    profile: Annotated[
        Path | None, typer.Argument(help="A profile YAML (not with --resume).")
    ] = None,
    users: Annotated[
        str | None, typer.Option(help="Steps over load.users, e.g. 10,50,100.")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Resume this sweep directory.")
    ] = None,
    data_dir: DataDir = api.DATA_DIR,
    reports_dir: ReportsDir = api.REPORTS_DIR,
    report: Annotated[bool, typer.Option(help="Render the sweep report.")] = True,
    verbose: Verbose = False,
) -> None:
    """One papermill-executed step per value, then the analysis across steps."""
    _configure_logging(verbose)
    with _expected_failures():
        if (profile is None) == (resume is None):
            raise ConfigError("give a PROFILE to start a sweep, or --resume DIR")
        loaded = load_profile(profile) if profile is not None else None
        steps = _user_list(users)
        with _SweepProgress() as progress:
            result = api.sweep(
                loaded, data_dir, reports_dir, steps, resume, report, progress.step
            )
    out.print(f"sweep directory: {result.sweep_dir}")
    if result.report is not None:
        out.print(f"report: {result.report}")
    if result.status != "complete":
        raise typer.Exit(1)


def _user_list(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"--users {text!r}: give whole numbers separated by commas, "
            "e.g. --users 10,50,100"
        ) from None
    if not values or min(values) < 1:
        raise ConfigError(f"--users {text!r}: every value must be at least 1")
    return values


@app.command()
def down(
    force: Annotated[
        bool, typer.Option("--force", help="Clean up after runs whose octperf died.")
    ] = False,
    data_dir: DataDir = api.DATA_DIR,
    verbose: Verbose = False,
) -> None:
    """Remove what crashed runs left: processes, namespaces, routes."""
    _configure_logging(verbose)
    if not force:
        out.print("octperf down cleans up after crashed runs: give --force")
        raise typer.Exit(1)
    with _expected_failures():
        runs = _leftovers.leftovers(data_dir)
        if not runs:
            out.print(f"nothing to clean under {data_dir}")
        for run_dir in runs:
            for action in _leftovers.clean(run_dir):
                out.print(f"{run_dir.name}: {action}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    reports_dir: ReportsDir = api.REPORTS_DIR,
    verbose: Verbose = False,
) -> None:
    """(Re)render the HTML report of a run."""
    _configure_logging(verbose)
    with _expected_failures():
        path = api.report(run_dir, reports_dir)
    out.print(f"report: {path}")


def _override(profile: Profile, testbed: str | None, **load: float | None) -> Profile:
    """The profile with command-line options applied, validated again."""
    given = {key: value for key, value in load.items() if value is not None}
    if not given and testbed is None:
        return profile
    data = profile.model_dump(mode="json")
    data["load"] |= given
    if testbed is not None:
        data["testbed"] = testbed
    return profile_from_dict(data, source="command-line options")


class _SweepProgress:
    """Steps done, time left and the live request rate of the running step."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} steps"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[rate]}"),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None
        self._step_dir: Path | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _SweepProgress:
        if console.is_terminal:
            self._progress.start()
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._progress.stop()

    def step(self, step: Step, total: int, step_dir: Path) -> None:
        """Called by the sweep as each step starts."""
        if self._task is None:
            self._task = self._progress.add_task("sweep", total=total, rate="")
        self._progress.update(
            self._task,
            completed=step.index - 1,
            description=f"step {step.index}/{total} {step.label}",
        )
        self._step_dir = step_dir

    def _poll(self) -> None:
        while not self._stop.wait(1.0):
            if self._task is not None and self._step_dir is not None:
                rate = _latest_rate(self._step_dir)
                self._progress.update(self._task, rate=rate)


def _latest_rate(step_dir: Path) -> str:
    """The last per-second request count Locust wrote in a step, as text."""
    tables = sorted(step_dir.glob("runs/*/tables/locust.csv"))
    if not tables:
        return ""
    lines = tables[-1].read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        return ""
    header, last = lines[0].split(","), lines[-1].split(",")
    try:
        return f"{float(last[header.index('requests')]):.0f} req/s"
    except (ValueError, IndexError):
        return ""


class _LoadProgress:
    """A progress bar over the load's duration, drawn while Locust runs."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("load"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _LoadProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._progress.stop()

    def start(self, duration_s: float) -> None:
        if not console.is_terminal:
            return
        self._progress.start()
        task = self._progress.add_task("load", total=duration_s)
        started = time.monotonic()

        def tick() -> None:
            while not self._stop.wait(0.5):
                elapsed = min(time.monotonic() - started, duration_s)
                self._progress.update(task, completed=elapsed)

        self._thread = threading.Thread(target=tick, daemon=True)
        self._thread.start()


@contextlib.contextmanager
def _expected_failures() -> Iterator[None]:
    """Turn OctperfError into one line and exit 1, Ctrl-C into exit 130."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    except OctperfError as error:
        message = f"[red]octperf: error:[/] {error}"
        console.print(message, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print(
            "octperf: interrupted; what was collected is kept (the last log "
            "line says where; a sweep resumes with --resume DIR)"
        )
        raise typer.Exit(130) from None


def _interrupt(signum: int, frame: object) -> NoReturn:
    # The first Ctrl-C or SIGTERM stops the run the way Ctrl-C does; later
    # ones must not cut its teardown short, or namespaces, routes and
    # processes would stay behind.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _already_stopping)
    raise KeyboardInterrupt


def _already_stopping(signum: int, frame: object) -> None:
    console.print("octperf: already stopping; letting the teardown finish")


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    for noisy in ("urllib3", "matplotlib", "papermill", "traitlets", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def usl(
    points: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.csv",
            help="Two columns, concurrency and throughput; the header is optional.",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    verbose: Verbose = False,
) -> None:
    """Fit the Universal Scalability Law to throughput against concurrency."""
    # Imported here: scipy takes a while to load and no other command needs it.
    import json

    from octperf.analysis.usl import fit_usl, read_points

    _configure_logging(verbose)
    with _expected_failures():
        fit = fit_usl(*read_points(points))
    if as_json:
        typer.echo(json.dumps(fit.to_dict(), indent=2))
    else:
        out.print(fit.summary(), markup=False, highlight=False)


if __name__ == "__main__":
    app()
