"""The local bed with real HAProxy and nginx on loopback addresses."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

from octperf.errors import EnvironmentProblem, PortInUse
from octperf.testbed import LocalBed, _binaries
from tests.helpers import assert_gone, small_profile


def test_local_bed_serves_every_object_from_every_member(tmp_path: Path) -> None:
    """Through the VIP each object has its size, and round robin hits all members."""
    bed = LocalBed(small_profile("bed"), tmp_path)
    with bed as endpoints:
        pids = list(endpoints.processes.values())
        sizes = {
            name: len(requests.get(f"{endpoints.vip_url}/objects/{name}.bin").content)
            for name in ("1k", "64k", "1m")
        }
        members = {
            requests.get(f"{endpoints.vip_url}/health").headers["X-Octperf-Member"]
            for _ in range(6)
        }
        assert endpoints.stats_socket.is_socket()

    assert sizes == {"1k": 1024, "64k": 65536, "1m": 1048576}
    assert members == {"member-1", "member-2", "member-3"}
    assert sorted(endpoints.processes) == [
        "haproxy",
        "member-1",
        "member-2",
        "member-3",
    ]
    assert (tmp_path / "bed" / "haproxy.cfg").is_file()
    assert_gone(pids)
    assert not endpoints.stats_socket.parent.exists()


def test_a_taken_vip_port_is_one_clear_error(tmp_path: Path) -> None:
    """A listening socket on the VIP port stops the bed before anything starts."""
    profile = small_profile("busy", listener={"protocol_port": 18081})
    holder = socket.socket()
    holder.bind((str(profile.local.vip), 18081))
    holder.listen()
    try:
        with pytest.raises(PortInUse, match=r"127\.0\.200\.50:18081 is already in use"):
            LocalBed(profile, tmp_path).up()
    finally:
        holder.close()
    assert not (tmp_path / "logs").exists()


def test_a_missing_binary_names_the_package(monkeypatch) -> None:
    """Without haproxy on any path the error gives the apt-get command."""
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(_binaries, "_EXTRA_PATH", ())
    with pytest.raises(EnvironmentProblem, match="sudo apt-get install haproxy"):
        _binaries.require("haproxy")


def test_bed_reports_the_versions_it_runs() -> None:
    """HAProxy and nginx versions come from the binaries themselves."""
    versions = LocalBed(small_profile(), Path("unused")).versions()
    assert versions["haproxy"] and versions["haproxy"][0].isdigit()
    assert versions["nginx"] and versions["nginx"][0].isdigit()


def test_a_relative_workdir_works_from_any_directory(tmp_path, monkeypatch) -> None:
    """nginx resolves relative paths against its prefix: the bed passes absolute."""
    monkeypatch.chdir(tmp_path)
    with LocalBed(small_profile("relative"), Path("data/runs/x")) as endpoints:
        assert requests.get(f"{endpoints.vip_url}/health").status_code == 200
    assert (tmp_path / "data/runs/x/bed/haproxy.cfg").is_file()
