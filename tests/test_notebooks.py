"""Every shipped notebook runs: the explore walk-through, executed as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from octperf.report import execute_notebook
from tests.helpers import assert_gone

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

pytestmark = pytest.mark.slow


def test_shipped_notebooks_are_committed_without_outputs() -> None:
    """No stale outputs or execution counts are committed."""
    for path in NOTEBOOKS.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


def test_explore_runs_two_steps_on_one_bed_and_takes_it_down(tmp_path: Path) -> None:
    """The walk-through runs, both steps complete on the same bed, nothing is left."""
    executed = execute_notebook(
        NOTEBOOKS / "explore.ipynb",
        tmp_path / "explore.ipynb",
        {
            "duration_s": 4,
            "data_dir": str(tmp_path / "data"),
            "profile_path": str(NOTEBOOKS.parent / "locust/profiles/demo.yaml"),
        },
    )
    manifests = sorted((tmp_path / "data" / "runs").glob("*/manifest.json"))
    assert len(manifests) == 2
    beds = [json.loads(m.read_text())["bed"] for m in manifests]
    assert beds[0]["processes"] == beds[1]["processes"]
    statuses = {json.loads(m.read_text())["status"] for m in manifests}
    assert statuses == {"complete"}
    assert_gone([p["pid"] for p in beds[0]["processes"]])
    assert executed.is_file()
