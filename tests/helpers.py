"""Helpers shared by the tests."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from octperf.profile import Profile, profile_from_dict


def small_profile(name: str = "t", testbed: str = "local", **sections: dict) -> Profile:
    """A profile for tests: few users, a few seconds, on the default addresses."""
    data: dict = {
        "name": name,
        "testbed": testbed,
        "load": {"users": 10, "spawn_rate": 10, "duration_s": 6, "workers": 2},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return profile_from_dict(data)


def assert_gone(pids: list[int], within_s: float = 5.0) -> None:
    """Fail if any of ``pids`` is still a live (non-zombie) process."""
    deadline = time.monotonic() + within_s
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        time.sleep(0.1)
    assert not alive, f"processes left behind: {alive}"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for_locust_rows(data: Path, rows: int, timeout_s: float = 90) -> Path:
    """The run directory under ``data``, once Locust has written ``rows`` rows."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for table in data.glob("runs/*/tables/locust.csv"):
            if len(table.read_text().splitlines()) > rows:
                return table.parent.parent
        time.sleep(0.2)
    raise AssertionError(f"no Locust rows appeared under {data}")
