from __future__ import annotations

import json
import os
import re
import sys

import nbformat
import papermill
import pytest

from octperf import analysis, open_run, report
from octperf.errors import ReportError, StoreError
from tests.analysis.synthetic import write_run


@pytest.fixture
def bare_environment(monkeypatch):
    """PATH without the venv, MPLBACKEND=Agg: as from a cron job or a script."""
    venv_bin = os.path.dirname(sys.executable)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")


def test_render_report_writes_one_self_contained_html(tmp_path, bare_environment):
    """Summary values and plots inline; no code, no script, nothing fetched."""
    synthetic = write_run(tmp_path / "runs")
    reports = tmp_path / "reports"

    path = report.render_report(synthetic.path, reports)

    assert list(reports.iterdir()) == [path]
    assert path.name == f"{synthetic.path.name}.html"
    html = path.read_text(encoding="utf-8")
    summary = analysis.summary_table(open_run(synthetic.path))["value"]
    for quantity in ("client requests", "latency p99 (ms)", "peak scur (frontend)"):
        assert f"<td>{summary[quantity]}</td>" in html
    assert html.count("data:image/png;base64,") >= 5
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*https?:""", html)
    assert "analysis.plot_requests(" not in html
    assert "open_run(run_dir)" not in html
    assert "<td>no data</td>" not in html
    assert (synthetic.path / "report" / "analysis.ipynb").is_file()


def test_amphora_report_shows_the_agents_and_octavias_views(tmp_path):
    """Both sections with their plots, the totals table and the summary rows."""
    synthetic = write_run(tmp_path / "runs")

    html = report.render_report(synthetic.path, tmp_path / "reports").read_text()

    run = open_run(synthetic.path)
    assert re.search(r"<h2[^>]*>The amphora agent's view<", html)
    assert re.search(r"<h2[^>]*>Octavia's view \(heartbeat\)<", html)
    alts = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,', html)
    assert any(alt.startswith("The amphora agent's CPU") for alt in alts)
    assert any(alt.startswith("Bytes and connections per heartbeat") for alt in alts)
    totals = analysis.heartbeat_totals(run)
    row = "bytes out (tx | bout)"
    assert f"<td>{totals.loc[row, 'heartbeat']}</td>" in html
    assert f"<td>{totals.loc[row, 'HAProxy']}</td>" in html
    assert "<th>heartbeats received</th>" in html
    assert "<td>OPEN (20), FULL (1)</td>" in html
    assert "no amphora agent" not in html


def test_local_report_says_in_one_line_that_there_was_no_agent(tmp_path):
    """No empty amphora sections: one line instead, and no amphora rows."""
    synthetic = write_run(tmp_path / "runs", amphora=False)

    html = report.render_report(synthetic.path, tmp_path / "reports").read_text()

    assert "This local bed had no amphora agent" in html
    assert "The amphora agent's view" not in html
    assert "Octavia's view" not in html
    assert "heartbeats received" not in html
    assert "amphora agent CPU mean" not in html


def test_failed_cell_raises_report_error_naming_cell_and_notebook(
    tmp_path, monkeypatch
):
    """The error names the cell, its code, the exception and where to look."""
    synthetic = write_run(tmp_path / "runs")

    def fail(*args, **kwargs):
        raise papermill.PapermillExecutionError(
            cell_index=7,
            exec_count=4,
            source="\nanalysis.plot_latency(analysis.latency(run));",
            ename="KeyError",
            evalue="'latency_p50_ms'",
            traceback=[],
        )

    monkeypatch.setattr(papermill, "execute_notebook", fail)

    with pytest.raises(ReportError) as caught:
        report.render_report(synthetic.path, tmp_path / "reports")

    message = str(caught.value)
    assert "cell 7" in message
    assert "analysis.plot_latency(analysis.latency(run));" in message
    assert "KeyError: 'latency_p50_ms'" in message
    assert str(synthetic.path / "report" / "analysis.ipynb") in message
    assert not (tmp_path / "reports").exists()


def test_render_report_refuses_a_directory_that_is_not_a_run(tmp_path):
    """No manifest.json: a StoreError before any kernel starts."""
    with pytest.raises(StoreError, match="not a run directory"):
        report.render_report(tmp_path, tmp_path / "reports")


def test_shipped_notebook_has_a_parameters_cell_and_no_outputs():
    """papermill finds ``run_dir`` to inject; nothing executed is committed."""
    nb = nbformat.read(report.notebook_path(), as_version=4)

    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert code[0].source.startswith('run_dir = ""')
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert nb.metadata.kernelspec.name == "python3"


def test_kernel_runs_on_this_interpreter_whatever_the_kernelspec_says(
    tmp_path, monkeypatch
):
    """A user's python3 kernelspec naming another Python does not take over."""
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "other", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))

    manager = report._CallerKernelManager(kernel_name="python3")

    assert manager.kernel_spec.argv[0] == "/usr/bin/python3"
    assert manager.format_kernel_cmd()[0] == sys.executable
