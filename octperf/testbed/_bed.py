"""What every process-based bed does: nginx members, then HAProxy, then down.

A bed subclass says where its processes run (``_wrap``), how a URL is probed
(``_probe``), where HAProxy's files go, and what else it brings up around
them (networks, the amphora agent). Every process runs in its own process
group under a private run-time directory and is stopped by that group.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from octperf import _process
from octperf.errors import TestbedError
from octperf.profile import OBJECT_SIZES, Profile
from octperf.testbed import _binaries, _render
from octperf.testbed._endpoints import Endpoints
from octperf.testbed._limits import open_files_limits, size_maxconn

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 20.0


class ProcessBed:
    """HAProxy in front of nginx members, as processes this octperf starts.

    ``workdir`` receives the rendered configurations (``bed/``) and the
    processes' output (``logs/``); sockets, PID files and the served objects
    live in a private temporary directory removed by ``down()``.
    """

    name = "base"

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
        self._preflight()
        sizing = size_maxconn(
            self.profile.listener.connection_limit, open_files_limits()[1]
        )
        if sizing.note:
            log.warning("%s", sizing.note)
        self.runtime = Path(tempfile.mkdtemp(prefix="octperf-"))
        try:
            self._bring_up_around()
            self._start_members(nginx)
            self._start_haproxy(haproxy, sizing.maxconn)
            self._after_haproxy()
            self._check_alive()
        except BaseException:
            self.down()
            raise
        self.endpoints = self._endpoints(sizing.maxconn, sizing.note)
        log.info("%s bed up: VIP %s", self.name, self.endpoints.vip_url)
        return self.endpoints

    def down(self) -> None:
        """Stop HAProxy, then the members, by process group; remove what was made."""
        self._before_down()
        for process in reversed(self.processes):
            code = process.stop()
            log.debug("%s (pid %s) stopped, code %s", process.role, process.pid, code)
        self.processes.clear()
        self._take_down_around()
        if self.runtime is not None:
            shutil.rmtree(self.runtime, ignore_errors=True)
            self.runtime = None
            log.info("%s bed down", self.name)

    def versions(self) -> dict[str, str | None]:
        return {name: _binaries.version(name) for name in ("haproxy", "nginx")}

    # what subclasses change ---------------------------------------------

    def _preflight(self) -> None:
        """Refuse early, before anything starts (ports, rights, packages)."""

    def _bring_up_around(self) -> None:
        """Make what the processes need around them (networks)."""

    def _after_haproxy(self) -> None:
        """Start what runs beside HAProxy (the amphora agent)."""

    def _before_down(self) -> None:
        """Stop what runs beside HAProxy."""

    def _take_down_around(self) -> None:
        """Remove what ``_bring_up_around`` made."""

    def _wrap(self, role: str) -> list[str]:
        """The argv prefix that places ``role``'s process (none: run here)."""
        return []

    def _probe(self, url: str, role: str) -> bool:
        """True when ``url`` answers 200, asked from where ``role`` would ask."""
        raise NotImplementedError

    def _haproxy_paths(self) -> tuple[Path, Path]:
        """Where haproxy.cfg and the stats socket go."""
        runtime = self._runtime()
        socket_path = runtime / f"{self.profile.loadbalancer_id()}.sock"
        return self.workdir / "bed" / "haproxy.cfg", socket_path

    def _extra_endpoints(self) -> dict:
        return {}

    # members ------------------------------------------------------------

    def _start_members(self, nginx: str) -> None:
        document_root = _write_objects(self._runtime() / "www")
        for member in _render.members_of(self.profile):
            self._start_member(nginx, member, document_root)

    def _start_member(
        self, nginx: str, member: _render.Member, document_root: Path
    ) -> None:
        state = self._runtime() / member.name
        state.mkdir()
        health = self.health_path()
        config = _render.render_nginx(member, state, document_root, health, _is_root())
        path = self._write_config(
            self.workdir / "bed" / f"nginx-{member.name}.conf", config
        )
        nginx_argv = [nginx, "-e", str(state / "error.log"), "-c", str(path)]
        # nginx -t binds the listen addresses: test where it will run.
        _check(
            [*self._wrap(member.name), *nginx_argv, "-t", "-q"],
            f"nginx -t for {member.name} ({path})",
        )
        process = self._start(member.name, nginx_argv)
        url = f"http://{member.address}:{member.protocol_port}{health}"
        _process.wait_until(
            lambda: self._probe(url, "haproxy"), READY_TIMEOUT_S, url, process
        )

    # HAProxy ------------------------------------------------------------

    def _start_haproxy(self, haproxy: str, maxconn: int) -> None:
        config_path, socket_path = self._haproxy_paths()
        config = _render.render_haproxy(self.profile, socket_path, maxconn, _is_root())
        self._write_config(config_path, config)
        if config_path.parent != self.workdir / "bed":
            self._write_config(self.workdir / "bed" / "haproxy.cfg", config)
        _check(
            [haproxy, "-c", "-q", "-f", str(config_path)], f"haproxy -c ({config_path})"
        )
        process = self._start("haproxy", [haproxy, "-db", "-f", str(config_path)])
        url = self.vip_url() + self.health_path()
        _process.wait_until(
            lambda: socket_path.exists() and self._probe(url, "load"),
            READY_TIMEOUT_S,
            f"HAProxy to answer {url}",
            process,
        )

    # shared helpers -----------------------------------------------------

    def _check_alive(self) -> None:
        """Fail if any process died after its readiness was awaited.

        Readiness only shows that *something* answered: a member whose nginx
        died while another process held its address would pass it.
        """
        for process in self.processes:
            if not process.alive():
                raise TestbedError(
                    f"{process.role} exited with code {process.popen.returncode} "
                    f"while the bed came up: {process.log_tail()} "
                    f"(log: {process.log_path})"
                )

    def _start(self, role: str, argv: list[str]) -> _process.ManagedProcess:
        process = _process.start(
            role, [*self._wrap(role), *argv], self.workdir / "logs" / f"{role}.log"
        )
        self.processes.append(process)
        return process

    def _endpoints(self, maxconn: int, note: str | None) -> Endpoints:
        return Endpoints(
            testbed=self.name,
            vip_url=self.vip_url(),
            stats_socket=self._haproxy_paths()[1],
            frontend=self.profile.listener_id(),
            backend=f"{self.profile.pool_id()}:{self.profile.listener_id()}",
            maxconn=maxconn,
            maxconn_note=note,
            processes={p.role: p.pid for p in self.processes},
            **self._extra_endpoints(),
        )

    def vip_url(self) -> str:
        """``http://VIP:port`` of the listener."""
        return f"http://{self.profile.bed().vip}:{self.profile.listener.protocol_port}"

    def health_path(self) -> str:
        monitor = self.profile.pool.health_monitor
        return monitor.url_path if monitor else "/health"

    @staticmethod
    def _write_config(path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def _runtime(self) -> Path:
        if self.runtime is None:
            raise TestbedError(f"the {self.name} bed is not up")
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


def _check(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().replace("\n", " | ")
        raise TestbedError(f"{what} refused the configuration: {output}")


def _is_root() -> bool:
    return os.geteuid() == 0
