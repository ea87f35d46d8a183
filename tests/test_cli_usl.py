"""``octperf usl FILE.csv`` as a user types it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SPECSDM91 = Path(__file__).parent / "analysis" / "data" / "specsdm91.csv"


def octperf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "octperf.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_usl_prints_coefficients_errors_and_the_peak():
    """The published SPEC SDM91 data: coefficients, errors, R² and N* as R prints."""
    done = octperf("usl", str(SPECSDM91))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.split()[:3] == ["sigma", "0.0277284", "0.009122"] for line in lines)
    assert any(line.split()[:2] == ["kappa", "0.000104366"] for line in lines)
    assert any(line.split()[:2] == ["lambda", "89.9952"] for line in lines)
    assert "R²      0.9896" in done.stdout
    assert "N* = 96.52 (continuous)" in done.stdout
    assert "N = 96 (floored)" in done.stdout


def test_usl_json_is_the_fit_as_data(tmp_path):
    """--json on a file without header or comments prints to_dict()."""
    rows = SPECSDM91.read_text().splitlines()
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(r for r in rows if r[0].isdigit()) + "\n")
    done = octperf("usl", str(bare), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["points"] == 7
    assert data["sigma"]["value"] == pytest.approx(0.0277285, rel=0.01)
    assert data["peak"]["n_floor"] == 96
    assert data["amdahl_limit"] is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no such file"),
        ("users,rps,p99\n1,10,5\n", "line 2: 3 columns"),
        ("users,rps\n1,10\n2,lots\n", "line 3: 'lots' is not a number"),
        ("1,10\n2,19\n4,35\n", "needs at least 4"),
    ],
)
def test_usl_on_a_bad_file_is_one_line_without_traceback(tmp_path, text, message):
    """Missing, extra column, not numeric, too few points: exit 1 and one line."""
    path = tmp_path / "points.csv"
    if text is not None:
        path.write_text(text)
    done = octperf("usl", str(path))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""
