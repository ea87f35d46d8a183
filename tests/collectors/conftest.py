"""A real HAProxy on loopback for the collector tests.

It runs one listener frontend whose pool's only member is a second frontend
of the same HAProxy answering 200 itself (``http-request return``, HAProxy
2.2+), so no other server is needed. ``haproxy_master_worker`` runs it as
the amphora does (``-W``, master-worker mode), so that SIGUSR2 to the
master reloads it: a new worker with fresh counters takes over the VIP and
the stats socket while the master keeps its PID.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from octperf._process import ManagedProcess, start, wait_until
from octperf.collectors import StatsSocket
from octperf.errors import CollectorError

HAPROXY = Path("/usr/sbin/haproxy")

# Names shaped like the UUIDs Octavia gives listeners, pools and members.
LISTENER = "0c2b7f5e-8d1a-4f6b-9a3e-5d7c1b2a4e60"
POOL = "6a1d3c9e-2f4b-4e8a-b7c5-0d9e8f7a6b51"
MEMBER = "b3e5f7a9-1c2d-4e6f-8a0b-2c4d6e8f0a13"

CONFIG = """\
global
    maxconn 1000
    stats socket {socket} mode 600 level user

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend {listener}
    bind 127.0.0.1:{listener_port}
    default_backend {pool}

backend {pool}
    server {member} 127.0.0.1:{member_port}

frontend responder
    bind 127.0.0.1:{member_port}
    http-request return status 200 content-type text/plain string ok
"""


@dataclass
class LocalHAProxy:
    """The running HAProxy: its stats socket, VIP URL and listener name."""

    socket_path: Path
    url: str
    listener: str
    process: ManagedProcess

    def stats(self) -> StatsSocket:
        return StatsSocket(self.socket_path)

    def get(self, count: int, keep_alive: bool = True) -> None:
        """GET the VIP ``count`` times, on one connection or on one each."""
        headers = {} if keep_alive else {"Connection": "close"}
        with requests.Session() as session:
            session.trust_env = False  # never through a proxy: loopback only
            for _ in range(count):
                response = session.get(self.url, headers=headers, timeout=5)
                assert response.status_code == 200

    def worker_pid(self) -> str | None:
        """The PID the stats socket answers with (``show info``); None if none."""
        try:
            return self.stats().show_info().get("Pid")
        except CollectorError:
            return None

    def reload(self) -> str:
        """Reload a master-worker HAProxy (SIGUSR2); return the new worker's PID.

        Returns once the new worker answers the stats socket.
        """
        old = self.worker_pid()
        os.kill(self.process.pid, signal.SIGUSR2)
        return self._answering(lambda pid: pid not in (None, old))

    def stop(self) -> None:
        """Stop HAProxy's process group; its stats socket stops answering."""
        self.process.stop()

    def restart(self) -> str:
        """Start HAProxy again, same command and log; return its PID as it says.

        Returns once it answers the stats socket.
        """
        self.process.stop()
        self.process = start("haproxy", self.process.argv, self.process.log_path)
        return self._answering(lambda pid: pid is not None)

    def _answering(self, wanted: Callable[[str | None], bool]) -> str:
        def check() -> str | None:
            pid = self.worker_pid()
            return pid if wanted(pid) else None

        return str(wait_until(check, 10, "HAProxy to answer", self.process))


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[LocalHAProxy]:
    """HAProxy 2.x started for one test and stopped by process group after it."""
    yield from _haproxy(tmp_path, [])


@pytest.fixture
def haproxy_master_worker(tmp_path: Path) -> Iterator[LocalHAProxy]:
    """HAProxy in master-worker mode (``-W``), reloadable with ``reload()``.

    ``process`` is the master; its workers are in its process group.
    """
    yield from _haproxy(tmp_path, ["-W"])


def _haproxy(tmp_path: Path, options: list[str]) -> Iterator[LocalHAProxy]:
    if not os.access(HAPROXY, os.X_OK):
        pytest.skip(f"no HAProxy at {HAPROXY}")
    socket_path = tmp_path / "stats.sock"
    listener_port, member_port = free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        CONFIG.format(
            socket=socket_path,
            listener=LISTENER,
            pool=POOL,
            member=MEMBER,
            listener_port=listener_port,
            member_port=member_port,
        )
    )

    argv = [str(HAPROXY), *options, "-db", "-f", str(config)]
    process = start("haproxy", argv, tmp_path / "haproxy.log")
    url = f"http://127.0.0.1:{listener_port}/"
    running = LocalHAProxy(socket_path, url, LISTENER, process)
    try:
        wait_until(lambda: answers(socket_path), 10, "the stats socket", process)
        yield running
    finally:
        process.stop()
        running.process.stop()  # the one a restart() started, if any


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(socket_path: Path) -> bool:
    try:
        StatsSocket(socket_path, timeout_s=1.0).show_info()
    except CollectorError:
        return False
    return True
