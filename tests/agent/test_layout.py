"""Where the agent looks for HAProxy's files under base_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from octperf.errors import TestbedError
from octperf.testbed._agent import loadbalancer_files

LB_ID = "3c2409f4-0062-5d37-938a-df71cf713697"


def test_files_are_laid_out_as_the_agent_reads_them() -> None:
    """Config and pid file in <base>/<lb>/, the stats socket beside that folder."""
    files = loadbalancer_files(Path("/var/lib/octavia"), LB_ID)
    assert files.config == Path(f"/var/lib/octavia/{LB_ID}/haproxy.cfg")
    assert files.pid_file == Path(f"/var/lib/octavia/{LB_ID}/{LB_ID}.pid")
    assert files.stats_socket == Path(f"/var/lib/octavia/{LB_ID}.sock")


def test_a_base_path_too_long_for_haproxys_socket_is_refused() -> None:
    """HAProxy rejects stats socket paths over 97 characters; say so first."""
    loadbalancer_files(Path("/" + "b" * 54), LB_ID)
    with pytest.raises(TestbedError, match="at most 55 characters"):
        loadbalancer_files(Path("/" + "b" * 55), LB_ID)
