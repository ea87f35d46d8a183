"""Starting and stopping the agent leaves nothing behind on the host."""

from __future__ import annotations

from pathlib import Path

import pytest

from octperf.errors import TestbedError
from octperf.testbed._agent import AMPHORA_NAMESPACE, AmphoraAgent
from tests.agent.conftest import (
    agent_bed,
    free_port,
    host_paths_present,
    namespaces,
    skip_reason,
)
from tests.helpers import assert_gone

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


def test_teardown_leaves_no_namespace_process_or_host_file(tmp_path: Path) -> None:
    """After the bed: no netns, none of the PIDs started, nothing in /var/log."""
    before_paths, before_namespaces = host_paths_present(), namespaces()
    with agent_bed(tmp_path) as bed:
        pids = list(bed.pids)
        peer = bed.peer_namespace
        base = bed.files.directory.parent
        assert len(pids) >= 4  # HAProxy, gunicorn master, worker, health sender
        assert (tmp_path / "logs" / "amphora-agent.log").stat().st_size > 0

    assert_gone(pids)
    assert namespaces() == before_namespaces
    assert AMPHORA_NAMESPACE not in namespaces() and peer not in namespaces()
    assert host_paths_present() == before_paths
    assert not base.exists()


def test_the_agent_refuses_to_start_without_the_amphora_namespace(
    tmp_path: Path,
) -> None:
    """Without amphora-haproxy the error says to create it; nothing starts."""
    assert AMPHORA_NAMESPACE not in namespaces()
    agent = AmphoraAgent(tmp_path / "run", tmp_path / "logs", "amp", tmp_path / "base",
                         None, free_port())  # fmt: skip
    with pytest.raises(TestbedError, match="ip netns add amphora-haproxy"):
        agent.start()
    assert agent.pid is None
    assert AMPHORA_NAMESPACE not in namespaces()
