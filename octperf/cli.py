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
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from octperf import api
from octperf.doctor import ready
from octperf.errors import OctperfError
from octperf.profile import Profile, load_profile, profile_from_dict

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
    try:
        yield
    except OctperfError as error:
        message = f"[red]octperf: error:[/] {error}"
        console.print(message, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("octperf: interrupted; the run was stopped and kept")
        raise typer.Exit(130) from None


def _interrupt(signum: int, frame: object) -> NoReturn:
    # SIGTERM takes the same path as Ctrl-C: stop the load, flush, bed down.
    raise KeyboardInterrupt


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    for noisy in ("urllib3", "matplotlib", "papermill", "traitlets", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    app()
