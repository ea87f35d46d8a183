"""The local bed: HAProxy and nginx members as processes on 127.0.0.0/8.

No root, no namespaces: the VIP and the members are loopback addresses
(all of 127.0.0.0/8 answers on Linux). Each process runs in its own process
group under a private run-time directory and is stopped by that group.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import requests

from octperf import _process
from octperf.errors import EnvironmentProblem, PortInUse, TestbedError
from octperf.profile import OBJECT_SIZES, Profile
from octperf.testbed import _binaries, _render
from octperf.testbed._endpoints import Endpoints
from octperf.testbed._limits import open_files_limits, size_maxconn

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 20.0


class LocalBed:
    """HAProxy in front of nginx members, all on loopback addresses.

    ``workdir`` receives the rendered configurations (``bed/``) and the
    processes' output (``logs/``); sockets, PID files and the served objects
    live in a private temporary directory removed by ``down()``.
    """

    name = "local"

    def __init__(self, profile: Profile, workdir: Path) -> None:
        self.profile = profile
        self.workdir = Path(workdir).resolve()
        self.runtime: Path | None = None
        self.processes: list[_process.ManagedProcess] = []
        self.endpoints: Endpoints | None = None

    def __enter__(self) -> Endpoints:
        return self.up()

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    def up(self) -> Endpoints:
        """Start members then HAProxy; return once traffic flows through the VIP."""
        haproxy, nginx = _binaries.require("haproxy"), _binaries.require("nginx")
        sizing = size_maxconn(
            self.profile.listener.connection_limit, open_files_limits()[1]
        )
        if sizing.note:
            log.warning("%s", sizing.note)
        self._check_ports_free()
        self.runtime = Path(tempfile.mkdtemp(prefix="octperf-"))
        try:
            self._start_members(nginx)
            self._start_haproxy(haproxy, sizing.maxconn)
        except BaseException:
            self.down()
            raise
        self.endpoints = self._endpoints(sizing.maxconn, sizing.note)
        log.info("local bed up: VIP %s", self.endpoints.vip_url)
        return self.endpoints

    def down(self) -> None:
        """Stop HAProxy, then the members, by process group; remove run-time files."""
        for process in reversed(self.processes):
            code = process.stop()
            log.debug("%s (pid %s) stopped, code %s", process.role, process.pid, code)
        self.processes.clear()
        if self.runtime is not None:
            shutil.rmtree(self.runtime, ignore_errors=True)
            self.runtime = None
            log.info("local bed down")

    def versions(self) -> dict[str, str | None]:
        return {name: _binaries.version(name) for name in ("haproxy", "nginx")}

    # members ------------------------------------------------------------

    def _start_members(self, nginx: str) -> None:
        runtime = self._runtime()
        document_root = _write_objects(runtime / "www")
        health = self._health_path()
        for member in _render.members_of(self.profile):
            state = runtime / member.name
            state.mkdir()
            config = _render.render_nginx(
                member, state, document_root, health, _is_root()
            )
            path = self._write_config(f"nginx-{member.name}.conf", config)
            error_log = state / "error.log"
            _check(
                [nginx, "-t", "-q", "-e", str(error_log), "-c", str(path)],
                f"nginx -t for {member.name} ({path})",
            )
            process = _process.start(
                member.name,
                [nginx, "-e", str(error_log), "-c", str(path)],
                self._log_dir() / f"{member.name}.log",
            )
            self.processes.append(process)
            url = f"http://{member.address}:{member.protocol_port}{health}"
            _process.wait_until(
                lambda url=url: _answers(url), READY_TIMEOUT_S, f"{url}", process
            )

    # HAProxy ------------------------------------------------------------

    def _start_haproxy(self, haproxy: str, maxconn: int) -> None:
        socket_path = self._runtime() / f"{self.profile.loadbalancer_id()}.sock"
        config = _render.render_haproxy(self.profile, socket_path, maxconn, _is_root())
        path = self._write_config("haproxy.cfg", config)
        _check([haproxy, "-c", "-q", "-f", str(path)], f"haproxy -c ({path})")
        process = _process.start(
            "haproxy",
            [haproxy, "-db", "-f", str(path)],
            self._log_dir() / "haproxy.log",
        )
        self.processes.append(process)
        url = self._vip_url() + self._health_path()
        _process.wait_until(
            lambda: socket_path.exists() and _answers(url),
            READY_TIMEOUT_S,
            f"HAProxy to answer {url}",
            process,
        )

    # helpers ------------------------------------------------------------

    def _endpoints(self, maxconn: int, note: str | None) -> Endpoints:
        return Endpoints(
            testbed=self.name,
            vip_url=self._vip_url(),
            stats_socket=self._runtime() / f"{self.profile.loadbalancer_id()}.sock",
            frontend=self.profile.listener_id(),
            backend=f"{self.profile.pool_id()}:{self.profile.listener_id()}",
            maxconn=maxconn,
            maxconn_note=note,
            processes={p.role: p.pid for p in self.processes},
        )

    def _check_ports_free(self) -> None:
        bed = self.profile.local
        wanted = [(str(bed.vip), self.profile.listener.protocol_port)]
        wanted += [(str(address), bed.member_port) for address in bed.members]
        for address, port in wanted:
            _check_port_free(address, port)

    def _vip_url(self) -> str:
        return f"http://{self.profile.local.vip}:{self.profile.listener.protocol_port}"

    def _health_path(self) -> str:
        monitor = self.profile.pool.health_monitor
        return monitor.url_path if monitor else "/health"

    def _write_config(self, name: str, text: str) -> Path:
        path = self.workdir / "bed" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def _log_dir(self) -> Path:
        return self.workdir / "logs"

    def _runtime(self) -> Path:
        if self.runtime is None:
            raise TestbedError("the local bed is not up")
        return self.runtime


def _write_objects(document_root: Path) -> Path:
    """The objects members serve: random bytes, so nothing compresses them."""
    objects = document_root / "objects"
    objects.mkdir(parents=True)
    for name, size in OBJECT_SIZES.items():
        (objects / f"{name}.bin").write_bytes(os.urandom(size))
    # nginx workers run as nobody when started by root: let them read.
    for path in (document_root.parent, document_root, objects):
        path.chmod(0o755)
    for path in objects.iterdir():
        path.chmod(0o644)
    return document_root


def _check_port_free(address: str, port: int) -> None:
    """Bind and release ``address:port``; nothing is sent."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # SO_REUSEADDR, as HAProxy and nginx set it: connections in TIME_WAIT on
    # the port do not count as in use, a listening socket does.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((address, port))
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise TestbedError(f"cannot bind {address}:{port}: {error}") from None
        raise PortInUse(
            f"{address}:{port} is already in use{_owner(port)}: stop that process "
            "or choose other addresses or ports in the profile (local.vip, "
            "local.members, local.member_port, listener.protocol_port)"
        ) from None
    finally:
        probe.close()


def _owner(port: int) -> str:
    try:
        import psutil

        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN":
                return f" (by pid {conn.pid})" if conn.pid else ""
    except (OSError, PermissionError):
        pass
    return ""


def _check(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().replace("\n", " | ")
        raise TestbedError(f"{what} refused the configuration: {output}")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _is_root() -> bool:
    return os.geteuid() == 0


__all__ = ["EnvironmentProblem", "LocalBed"]
