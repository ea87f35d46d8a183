"""Per-role process metrics: the role's process and its children."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from octperf._process import ManagedProcess, start, wait_until
from octperf.collectors import ProcessCollector

COLUMNS = [
    "ts",
    "role",
    "pid",
    "ppid",
    "name",
    "cpu_percent",
    "rss_bytes",
    "num_threads",
    "num_fds",
]


def test_own_busy_loop_shows_in_cpu_percent():
    """Half a CPU-second of spinning shows as the share of the interval it took."""
    collector = ProcessCollector({"pytest": os.getpid()})
    cpu_start, wall_start = time.process_time(), time.monotonic()
    while time.process_time() - cpu_start < 0.5 and time.monotonic() - wall_start < 10:
        pass
    cpu_used = time.process_time() - cpu_start
    expected = 100 * cpu_used / (time.monotonic() - wall_start)

    (row,) = collector.sample(1.0)["process"]

    assert list(row) == COLUMNS
    assert row["pid"] == os.getpid()
    assert row["cpu_percent"] == pytest.approx(expected, abs=10)
    assert row["rss_bytes"] > 0
    assert row["num_fds"] > 0


def test_children_are_rows_of_their_parents_role(tmp_path: Path):
    """A role's children (like nginx workers) are sampled under that role."""
    shell = _start_family(tmp_path)
    try:
        collector = ProcessCollector({"member-1": shell.pid})

        rows = collector.sample(1.0)["process"]

        assert {row["role"] for row in rows} == {"member-1"}
        assert rows[0]["pid"] == shell.pid
        children = rows[1:]
        assert len(children) == 2
        assert all(row["ppid"] == shell.pid for row in children)
        assert all(row["name"] == "sleep" for row in children)
    finally:
        shell.stop()


def test_child_seen_first_has_unknown_cpu_then_a_value(tmp_path: Path):
    """A new child's first cpu_percent is None (one reading); the next is a number."""
    shell = _start_family(tmp_path)
    try:
        collector = ProcessCollector({"member-1": shell.pid})

        first = collector.sample(1.0)["process"]
        second = collector.sample(2.0)["process"]

        assert first[0]["cpu_percent"] is not None  # primed when added
        assert [row["cpu_percent"] for row in first[1:]] == [None, None]
        assert all(row["cpu_percent"] is not None for row in second)
    finally:
        shell.stop()


def test_exited_process_is_dropped_without_error(tmp_path: Path):
    """A role whose process exited yields no rows, and sampling goes on."""
    sleeper = start("member-2", ["sleep", "60"], tmp_path / "sleep.log")
    try:
        collector = ProcessCollector({"member-2": sleeper.pid, "pytest": os.getpid()})
        assert {row["role"] for row in collector.sample(1.0)["process"]} == {
            "member-2",
            "pytest",
        }
    finally:
        sleeper.stop()

    rows = collector.sample(2.0)["process"]

    assert [row["role"] for row in rows] == ["pytest"]


def test_role_added_later_is_sampled_from_then_on():
    """``add`` works after the first samples (Locust starts after the bed)."""
    collector = ProcessCollector()
    assert collector.sample(1.0)["process"] == []

    collector.add("locust-master", os.getpid())

    (row,) = collector.sample(2.0)["process"]
    assert row["role"] == "locust-master"
    assert collector.roles == {"locust-master": os.getpid()}


def test_pid_that_does_not_exist_yields_no_rows(tmp_path: Path):
    """A PID with no process is accepted and simply has no rows."""
    gone = start("gone", ["true"], tmp_path / "true.log")
    gone.popen.wait(timeout=10)

    collector = ProcessCollector({"gone": gone.pid})

    assert collector.sample(1.0)["process"] == []


def _start_family(tmp_path: Path) -> ManagedProcess:
    """A shell with two ``sleep`` children, stopped by the caller."""
    argv = ["sh", "-c", "sleep 60 & sleep 60 & wait"]
    shell = start("member-1", argv, tmp_path / "sh.log")
    try:
        wait_until(lambda: len(_children(shell.pid)) == 2, 10, "two children", shell)
    except Exception:
        shell.stop()
        raise
    return shell


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
