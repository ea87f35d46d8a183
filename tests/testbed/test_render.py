"""Rendering the amphora-shaped HAProxy and nginx configurations."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from octperf.errors import EnvironmentProblem
from octperf.testbed import _binaries, _render
from octperf.testbed._limits import size_maxconn
from tests.helpers import small_profile


def test_haproxy_config_names_proxies_by_octavia_uuids(tmp_path: Path) -> None:
    """Frontend, backend and servers carry listener, pool and member UUIDs."""
    profile = small_profile("render", listener={"timeout_client_data": 12345})
    text = _render.render_haproxy(profile, tmp_path / "s.sock", 900, False)

    assert f"frontend {profile.listener_id()}\n" in text
    assert f"backend {profile.pool_id()}:{profile.listener_id()}\n" in text
    for member_id, address in zip(
        profile.member_ids(), profile.local.members, strict=True
    ):
        assert f"server {member_id} {address}:8080 weight 1 check inter 5s" in text
    assert f"stats socket {tmp_path / 's.sock'} mode 600" in text
    assert "    maxconn 900\n" in text
    assert "timeout client 12345" in text
    assert "timeout connect 5000" in text and "timeout server 50000" in text
    assert "option httpchk GET /health" in text


def test_rendered_haproxy_config_passes_haproxy_check(tmp_path: Path) -> None:
    """The real haproxy binary accepts the rendered configuration."""
    profile = small_profile("render")
    path = tmp_path / "haproxy.cfg"
    path.write_text(_render.render_haproxy(profile, tmp_path / "s.sock", 900, False))

    done = subprocess.run(
        [_binaries.require("haproxy"), "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_uuids_are_stable_per_profile_name() -> None:
    """Two runs of one profile get the same proxy names; another name does not."""
    assert small_profile("a").listener_id() == small_profile("a").listener_id()
    assert small_profile("a").listener_id() != small_profile("b").listener_id()


def test_unlimited_listener_is_sized_to_the_open_files_limit() -> None:
    """Octavia's 50000 is lowered to what 20000 descriptors allow, with a note."""
    sizing = size_maxconn(-1, 20000)
    assert sizing.maxconn == 7920
    assert sizing.note is not None
    assert "50000" in sizing.note and "20000" in sizing.note


def test_unlimited_listener_keeps_octavias_maxconn_when_it_fits() -> None:
    """With a large enough limit maxconn stays at Octavia's 50000, no note."""
    sizing = size_maxconn(-1, 1 << 20)
    assert (sizing.maxconn, sizing.note) == (50000, None)


def test_explicit_connection_limit_above_the_limit_is_refused() -> None:
    """A limit the machine cannot honour says which value would work."""
    with pytest.raises(EnvironmentProblem, match=r"at most 7920"):
        size_maxconn(15000, 20000)
    assert size_maxconn(5000, 20000).maxconn == 5000


def test_a_tiny_open_files_limit_is_refused_with_the_limit_to_set() -> None:
    """Too few descriptors for a meaningful maxconn: say what limit would do."""
    with pytest.raises(EnvironmentProblem, match=r"hard limit is 500.*at least 840"):
        size_maxconn(-1, 500)
