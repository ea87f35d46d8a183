"""The octperf command as a user types it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def octperf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "octperf.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_doctor_finds_the_local_bed_ready() -> None:
    """With haproxy and nginx installed, doctor lists their versions and exits 0."""
    done = octperf("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "local bed: ready" in done.stdout
    assert "haproxy" in done.stdout and "nginx" in done.stdout
    assert "maxconn up to" in done.stdout


def test_a_bad_profile_is_one_line_without_traceback(tmp_path: Path) -> None:
    """A typo in a key exits 1 with the file and the key, nothing more."""
    profile = tmp_path / "typo.yaml"
    profile.write_text("name: typo\nload: {user: 5}\n")
    done = octperf("run", str(profile))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "load.user: unknown key" in " ".join(lines)
    assert str(profile.name) in " ".join(lines)
    assert not (tmp_path / "data").exists()


def test_report_of_a_folder_that_is_no_run_says_so(tmp_path: Path) -> None:
    """octperf report on a wrong directory fails cleanly."""
    done = octperf("report", str(tmp_path))
    assert done.returncode == 1
    assert "not a run directory" in done.stderr
    assert "Traceback" not in done.stderr
