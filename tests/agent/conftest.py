"""The genuine Octavia amphora agent beside a real HAProxy, in namespaces.

``agent_bed()`` builds what an amphora looks like from the agent's side:

- the ``amphora-haproxy`` network namespace with a veth ``eth1``
  (198.51.100.1/24, TEST-NET-2) whose peer sits in a second namespace of
  ours (198.51.100.2/24); no interface is created in the root namespace
  and nothing is sent to these addresses from it;
- HAProxy inside ``amphora-haproxy`` with the configuration every octperf bed
  renders, laid out under base_path where the agent looks for it;
- a heartbeat receiver on a loopback port, and the agent itself.

Everything is undone on exit, in reverse order, even when a step fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from octperf._process import ManagedProcess, start, wait_until
from octperf.collectors.amphora import AmphoraAPI
from octperf.collectors.heartbeat import HeartbeatReceiver
from octperf.profile import Profile, profile_from_dict
from octperf.testbed import _binaries
from octperf.testbed._agent import (
    AGENT_VENV,
    AMPHORA_NAMESPACE,
    AmphoraAgent,
    LoadBalancerFiles,
    loadbalancer_files,
)
from octperf.testbed._render import render_haproxy

ETH1_ADDRESS = "198.51.100.1"
PEER_ADDRESS = "198.51.100.2"
PEER_INTERFACE = "veth-amp"
AMPHORA_ID = "5c0b6f1e-3f0a-4c59-9d0e-7a1b2c3d4e5f"

# Files the agent would write on the host if it were not contained.
HOST_PATHS = (
    Path("/var/log/amphora-agent.log"),
    Path("/etc/octavia"),
    Path("/var/lib/octavia"),
    Path(os.path.expanduser("~/.gunicorn")),
)


@dataclass
class AgentBed:
    """What ``agent_bed()`` started, and the PIDs to check are gone after."""

    tmp: Path
    profile: Profile
    files: LoadBalancerFiles
    haproxy: ManagedProcess
    receiver: HeartbeatReceiver
    agent: AmphoraAgent
    api: AmphoraAPI
    peer_namespace: str
    pids: list[int] = field(default_factory=list)

    def listener_id(self) -> str:
        return self.profile.listener_id()


def skip_reason() -> str | None:
    """Why the live agent tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "the amphora agent needs root (network namespaces, /details)"
    if not (AGENT_VENV / "bin" / "amphora-agent").is_file():
        return f"no agent in {AGENT_VENV}: run 'sudo bash scripts/install-agent.sh'"
    if _binaries.find("haproxy") is None:
        return "haproxy is not installed: run 'make deps'"
    return None


def namespaces() -> set[str]:
    """The names ``ip netns list`` shows."""
    out = run(["ip", "netns", "list"]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def host_paths_present() -> set[Path]:
    return {path for path in HOST_PATHS if path.exists()}


def run(argv: list[str], timeout_s: float = 30) -> subprocess.CompletedProcess:
    """Run a command, failing with its stderr if it fails."""
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done


def in_namespace(namespace: str, argv: list[str], timeout_s: float = 30):
    """Run ``argv`` inside ``namespace`` (``ip netns exec``)."""
    return run(["ip", "netns", "exec", namespace, *argv], timeout_s)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def agent_bed(tmp: Path) -> Iterator[AgentBed]:
    """Namespaces, HAProxy, heartbeat receiver and agent; all gone on exit."""
    if AMPHORA_NAMESPACE in namespaces():
        pytest.fail(
            f"network namespace {AMPHORA_NAMESPACE} exists already (left by "
            f"another run?); delete it with 'ip netns delete {AMPHORA_NAMESPACE}'"
        )
    peer = f"octperf-peer-{os.getpid()}"
    profile = profile_from_dict({"name": "agent-test"})
    with ExitStack() as stack:
        _make_namespaces(stack, peer)
        # Short, as /var/lib/octavia is: HAProxy caps socket paths at 97.
        base = Path(tempfile.mkdtemp(prefix="octperf-base-"))
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        files = loadbalancer_files(base, profile.loadbalancer_id())
        haproxy = _start_haproxy(stack, profile, files, tmp / "logs")
        key = secrets.token_hex(16)
        receiver = stack.enter_context(HeartbeatReceiver("127.0.0.1", 0, key))
        agent = AmphoraAgent(
            tmp / "runtime",
            tmp / "logs",
            AMPHORA_ID,
            base,
            ("127.0.0.1", receiver.port, key),
            free_port(),
        )
        stack.enter_context(agent)
        assert agent.certs is not None and agent.pid is not None
        api = AmphoraAPI(
            agent.url,
            agent.certs.client_cert,
            agent.certs.client_key,
            agent.certs.server_ca,
            timeout_s=10,
        )
        pids = [haproxy.pid, agent.pid, *_children(agent.pid)]
        yield AgentBed(tmp, profile, files, haproxy, receiver, agent, api, peer, pids)


def _make_namespaces(stack: ExitStack, peer: str) -> None:
    for namespace in (AMPHORA_NAMESPACE, peer):
        run(["ip", "netns", "add", namespace])
        stack.callback(run, ["ip", "netns", "delete", namespace])
    # Made inside amphora-haproxy with its peer placed straight into ours:
    # the pair never exists in the root namespace.
    run(
        [
            "ip",
            "-n",
            AMPHORA_NAMESPACE,
            "link",
            "add",
            "eth1",
            "type",
            "veth",
            "peer",
            "name",
            PEER_INTERFACE,
            "netns",
            peer,
        ]
    )
    for namespace, interface, address in (
        (AMPHORA_NAMESPACE, "eth1", ETH1_ADDRESS),
        (peer, PEER_INTERFACE, PEER_ADDRESS),
    ):
        run(["ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", interface])
        run(["ip", "-n", namespace, "link", "set", interface, "up"])
        run(["ip", "-n", namespace, "link", "set", "lo", "up"])


def _start_haproxy(
    stack: ExitStack, profile: Profile, files: LoadBalancerFiles, logs: Path
) -> ManagedProcess:
    files.directory.mkdir(parents=True)
    config = render_haproxy(profile, files.stats_socket, maxconn=1000, run_as_root=True)
    files.config.write_text(config, encoding="utf-8")
    haproxy = start(
        "haproxy",
        [
            "ip",
            "netns",
            "exec",
            AMPHORA_NAMESPACE,
            _binaries.require("haproxy"),
            "-db",
            "-f",
            str(files.config),
        ],
        logs / "haproxy.log",
    )
    stack.callback(haproxy.stop)
    # In the foreground HAProxy writes no pid file; the agent's systemd unit
    # would have it written. `ip netns exec` execs, so this is HAProxy's PID.
    files.pid_file.write_text(f"{haproxy.pid}\n", encoding="utf-8")
    wait_until(files.stats_socket.exists, 10, "HAProxy's stats socket", haproxy)
    return haproxy


def _children(pid: int) -> list[int]:
    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentBed]:
    """One agent bed shared by a module's tests; checked clean after."""
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    before = host_paths_present()
    tmp = tmp_path_factory.mktemp("agent")
    with agent_bed(tmp) as made:
        yield made
    assert AMPHORA_NAMESPACE not in namespaces()
    assert made.peer_namespace not in namespaces()
    assert host_paths_present() == before
    shutil.rmtree(tmp)
