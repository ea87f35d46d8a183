"""The HTML report of a run: the analysis notebook, executed and exported.

papermill executes ``notebooks/analysis.ipynb`` on the run and keeps the
executed copy in ``<run>/report/analysis.ipynb``; nbconvert exports it with
``templates/report`` (no code, no prompts, nothing fetched from the network)
to ``<reports dir>/<run id>.html``, one self-contained file to share.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.kernelspec import NoSuchKernel
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbconvert import HTMLExporter

from octperf._paths import REPO
from octperf.errors import ReportError
from octperf.store import open_run

__all__ = [
    "execute_notebook",
    "export_html",
    "notebook_path",
    "render_report",
    "render_sweep_report",
    "template_dir",
]

log = logging.getLogger(__name__)

# The package is installed editable from the repository, which holds the
# notebook and the template next to it.
REPOSITORY = REPO


def notebook_path() -> Path:
    """The analysis notebook in the repository."""
    return REPOSITORY / "notebooks" / "analysis.ipynb"


def template_dir() -> Path:
    """The nbconvert template directory of the report."""
    return REPOSITORY / "templates" / "report"


def render_report(run_dir: str | Path, reports_dir: str | Path) -> Path:
    """Execute the analysis notebook on a run and write its HTML report.

    Returns ``reports_dir/<run id>.html``; the executed notebook stays in
    ``<run>/report/analysis.ipynb``. The kernel runs on this interpreter
    whatever PATH says. Raises StoreError if ``run_dir`` is not a run, and
    ReportError if a cell fails (naming it and the executed notebook) or
    the export does.
    """
    run = open_run(run_dir)
    source = _existing(notebook_path())
    executed = run.subdir("report") / source.name
    log.info("executing %s on %s", source, run.path)
    execute_notebook(source, executed, {"run_dir": str(run.path.resolve())})
    target = Path(reports_dir) / f"{run.run_id}.html"
    return export_html(executed, f"octperf report {run.run_id}", target)


def render_sweep_report(sweep_dir: Path, reports_dir: str | Path) -> Path:
    """Execute the sweep notebook on a sweep and write its HTML report.

    Returns ``reports_dir/<sweep id>.html``; the executed notebook stays in
    ``<sweep>/report/sweep.ipynb``.
    """
    sweep_dir = Path(sweep_dir).resolve()
    source = _existing(REPOSITORY / "notebooks" / "sweep.ipynb")
    executed = sweep_dir / "report" / source.name
    log.info("executing %s on %s", source, sweep_dir)
    execute_notebook(source, executed, {"sweep_dir": str(sweep_dir)})
    target = Path(reports_dir) / f"{sweep_dir.name}.html"
    return export_html(executed, f"octperf sweep {sweep_dir.name}", target)


def execute_notebook(source: Path, executed: Path, parameters: dict) -> Path:
    """Execute ``source`` with papermill on this interpreter into ``executed``.

    The kernel's own stderr goes to ``kernel.log`` beside ``executed``.
    Raises ReportError naming the failing cell and the executed notebook,
    which keeps the traceback.
    """
    executed.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            kernel_manager_class=_kernel_manager(executed.with_name("kernel.log")),
        )
    except papermill.PapermillExecutionError as error:
        raise ReportError(
            f"{source.name} failed in cell {error.cell_index} "
            f"({_first_line(error.source)!r}) with {error.ename}: {error.evalue}; "
            f"the executed notebook with the traceback is {executed}"
        ) from error
    except (DeadKernelError, NoSuchKernel, RuntimeError) as error:
        # nbclient and jupyter_client report kernels that would not start or
        # died as RuntimeError subclasses (DeadKernelError) or KeyError.
        raise ReportError(
            f"the python3 kernel running {source} failed ({error!r}); run "
            f"`{sys.executable} -m ipykernel_launcher --help` to check it starts"
        ) from error
    return executed


def export_html(notebook: Path, title: str, target: Path) -> Path:
    """Export an executed notebook to ``target`` as one self-contained page."""
    html = _export(notebook, title)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    log.info("report written: %s", target)
    return target


def _export(notebook: Path, title: str) -> str:
    """The executed notebook as one HTML page, with the report template."""
    template = _existing(template_dir())
    exporter = HTMLExporter(
        template_name=template.name, extra_template_basedirs=[str(template.parent)]
    )
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = title
    try:
        html, _ = exporter.from_notebook_node(nb)
    except Exception as error:  # nbconvert and jinja2 raise many kinds
        raise ReportError(
            f"exporting {notebook} to HTML with {template} failed: {error}"
        ) from error
    return html


def _kernel_manager(stderr_log: Path) -> type[AsyncKernelManager]:
    """A kernel manager class whose kernel writes its stderr to ``stderr_log``.

    ipykernel warns on stderr at every start; in the run's report directory
    that stays available without cluttering the caller's terminal.
    """
    return type(
        "_RunKernelManager", (_CallerKernelManager,), {"stderr_log": stderr_log}
    )


class _CallerKernelManager(AsyncKernelManager):
    """Starts the kernel on the caller's interpreter, venv activated or not.

    A user-level ``python3`` kernelspec may name another Python, and PATH may
    lead elsewhere when the venv is not activated; either would run the
    notebook without this octperf.
    """

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd and Path(cmd[0]).name.startswith("python"):
            cmd[0] = sys.executable
        return cmd

    # AsyncKernelManager's start_kernel is a coroutine; mypy compares with the
    # blocking one of KernelManager it replaces.
    async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
        env = dict(kw.pop("env", None) or os.environ)
        bin_dir = os.path.dirname(sys.executable)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
        # A caller's MPLBACKEND (Agg in scripts and tests) would stop the
        # kernel from showing figures inline, leaving the report without plots.
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        stderr_log: Path | None = getattr(self, "stderr_log", None)
        if stderr_log is None:
            await super().start_kernel(env=env, **kw)
            return
        with stderr_log.open("ab") as sink:
            await super().start_kernel(env=env, stderr=sink, **kw)


def _first_line(source: str) -> str:
    return next((line for line in source.splitlines() if line.strip()), "")


def _existing(path: Path) -> Path:
    if not path.exists():
        raise ReportError(
            f"{path} is missing: octperf renders reports from its repository "
            "checkout; install it with `pip install -e .` from there"
        )
    return path
