"""The genuine OpenStack Octavia amphora agent, run beside HAProxy on this machine.

The agent comes from its own virtualenv (``scripts/install-agent.sh``) and is
started as it runs in an amphora: gunicorn with one synchronous worker,
mutual TLS, the health sender process beside it. What differs is where it
keeps its files, all under directories the caller gives:

- its configuration, certificates and network-interface files under
  ``runtime_dir``;
- its log: the agent opens ``/var/log/amphora-agent.log`` (fixed in
  ``octavia/cmd/agent.py``), so it runs in a private mount namespace where
  ``log_dir`` is bind-mounted over ``/var/log``; the host's ``/var/log`` is
  never touched;
- its syslog socket (``run/rsyslog/octavia/log``, relative to its working
  directory) and gunicorn's control socket, both under ``runtime_dir``.

What the agent reads about HAProxy sits under ``base_path``, laid out as
``loadbalancer_files()`` says. It needs root and the ``amphora-haproxy``
network namespace, created by the caller before ``start()``.
"""

from __future__ import annotations

import configparser
import errno
import logging
import os
import shlex
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from octperf._paths import REPO
from octperf._process import ManagedProcess, start, wait_until
from octperf.errors import EnvironmentProblem, PortInUse, TestbedError
from octperf.testbed._certs import AgentCerts, generate_agent_certs

log = logging.getLogger(__name__)

# The namespace name is a constant in octavia/common/constants.py.
AMPHORA_NAMESPACE = "amphora-haproxy"
NETNS_DIR = Path("/run/netns")

AGENT_VENV = REPO / ".venv-agent"
INSTALL_HINT = "sudo bash scripts/install-agent.sh"

# The agent asks dpkg-query for these on every /info and /details call and
# answers 500 when one is missing (amphora_info.py).
QUERIED_PACKAGES = ("haproxy", "keepalived", "ipvsadm")

# Relative to the agent's working directory (syslog_addr in cmd/agent.py).
SYSLOG_SOCKET = Path("run/rsyslog/octavia/log")

# What the agent finds on PATH: dpkg-query, ip, haproxy live in sbin too.
AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# A UNIX socket path longer than this cannot be bound (sun_path is 108 bytes).
MAX_SOCKET_PATH = 107

# HAProxy 2.6 keeps room in sun_path for the suffix of its temporary socket
# and refuses longer `stats socket` paths ("too long (max 97)").
HAPROXY_MAX_SOCKET_PATH = 97

Heartbeat = tuple[str, int, str]
"""Where the agent sends its UDP heartbeat: host, port and the HMAC key."""


@dataclass(frozen=True)
class LoadBalancerFiles:
    """Where the agent looks for one load balancer's HAProxy under base_path.

    HAProxy counts as running for the agent (``haproxy_count``, heartbeat)
    only when ``pid_file`` names a live process, and the heartbeat reads
    ``stats_socket``; ``config`` must declare that socket with a ``stats
    socket`` line and each listener as ``frontend <listener id>``.
    """

    directory: Path
    config: Path
    pid_file: Path
    stats_socket: Path


def loadbalancer_files(base_path: Path, loadbalancer_id: str) -> LoadBalancerFiles:
    """The agent's layout (octavia agent ``util.py``): ``<base>/<lb>/haproxy.cfg``,
    ``<base>/<lb>/<lb>.pid`` and ``<base>/<lb>.sock``.

    Raises TestbedError when the socket path is too long for HAProxy: with a
    UUID as ``loadbalancer_id``, ``base_path`` may have 55 characters.
    """
    directory = Path(base_path) / loadbalancer_id
    stats_socket = Path(base_path) / f"{loadbalancer_id}.sock"
    if len(str(stats_socket)) > HAPROXY_MAX_SOCKET_PATH:
        raise TestbedError(
            f"HAProxy refuses a stats socket path longer than "
            f"{HAPROXY_MAX_SOCKET_PATH} characters and {stats_socket} has "
            f"{len(str(stats_socket))}: choose a base_path of at most "
            f"{HAPROXY_MAX_SOCKET_PATH - len(stats_socket.name) - 1} characters"
        )
    return LoadBalancerFiles(
        directory=directory,
        config=directory / "haproxy.cfg",
        pid_file=directory / f"{loadbalancer_id}.pid",
        stats_socket=stats_socket,
    )


class AmphoraAgent:
    """One amphora agent process, listening with mutual TLS on 127.0.0.1:``port``.

    ``heartbeat`` (host, port, key) makes it send its UDP heartbeat there
    every ``heartbeat_interval_s``; None sends none. ``certs`` are generated
    under ``runtime_dir/certs`` unless given. Use as a context manager, or
    call ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        runtime_dir: Path,
        log_dir: Path,
        amphora_id: str,
        base_path: Path,
        heartbeat: Heartbeat | None = None,
        port: int = 9443,
        *,
        certs: AgentCerts | None = None,
        venv: Path = AGENT_VENV,
        heartbeat_interval_s: int = 1,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.runtime_dir = Path(runtime_dir).resolve()
        self.log_dir = Path(log_dir).resolve()
        self.amphora_id = amphora_id
        self.base_path = Path(base_path).resolve()
        self.heartbeat = heartbeat
        self.port = port
        self.venv = Path(venv)
        self.heartbeat_interval_s = heartbeat_interval_s
        self.start_timeout_s = start_timeout_s
        self.certs = certs
        self.process: ManagedProcess | None = None
        self._syslog: _SyslogSink | None = None

    def __enter__(self) -> AmphoraAgent:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The agent's base URL; its API is under ``/1.0/``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.runtime_dir / "amphora-agent.conf"

    @property
    def log_path(self) -> Path:
        """gunicorn's access and error log (``/var/log`` inside its namespace)."""
        return self.log_dir / "amphora-agent.log"

    @property
    def pid(self) -> int | None:
        """The PID of the gunicorn master, or None when not started."""
        return self.process.pid if self.process is not None else None

    def start(self) -> AmphoraAgent:
        """Write the configuration, start the agent and wait until ``/1.0/info``
        answers.

        Raises EnvironmentProblem when root, the agent's virtualenv or a
        queried Debian package is missing, TestbedError when the
        ``amphora-haproxy`` namespace does not exist or the agent dies or
        does not answer within ``start_timeout_s`` (its last log lines are
        in the message), PortInUse when the port is taken.
        """
        if self.process is not None:
            raise RuntimeError("this AmphoraAgent was already started")
        agent = self._check_machine()
        self._prepare_files()
        try:
            self._launch(agent)
            what = f"the amphora agent at {self.url}"
            info = wait_until(self._answers, self.start_timeout_s, what, self.process)
        except BaseException:
            self.stop()
            raise
        log.info(
            "amphora agent up at %s (pid %s, API %s, HAProxy %s)",
            self.url,
            self.pid,
            info.get("api_version"),
            info.get("haproxy_version"),
        )
        return self

    def stop(self, grace_s: float = 30.0) -> int | None:
        """SIGTERM the gunicorn master, reap it, then kill what is left of its
        process group; the exit code, or None if it never started.

        The master, not the group, gets SIGTERM first: it stops its worker
        and reaps the health sender, which nothing else would reap.
        """
        code = None
        if self.process is not None:
            code = self._terminate(self.process, grace_s)
            log.info("amphora agent (pid %s) stopped with code %s", self.pid, code)
        if self._syslog is not None:
            self._syslog.close()
            self._syslog = None
        return code

    def info(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """``GET /1.0/info``: hostname, haproxy_version, api_version, ...

        Raises TestbedError when the agent does not answer with JSON.
        """
        try:
            answer = self._get("/1.0/info", timeout_s)
            answer.raise_for_status()
            return answer.json()
        except (requests.RequestException, ValueError) as error:
            raise TestbedError(
                f"the amphora agent at {self.url} did not answer /1.0/info: "
                f"{error} (log: {self.log_path})"
            ) from error

    def version(self) -> str:
        """The agent's API version as ``/1.0/info`` reports it (``1.0``)."""
        return str(self.info()["api_version"])

    # starting -----------------------------------------------------------

    def _check_machine(self) -> Path:
        if os.geteuid() != 0:
            raise EnvironmentProblem(
                "the amphora agent needs root (it enters the amphora-haproxy "
                "network namespace); run octperf as root"
            )
        agent = self.venv / "bin" / "amphora-agent"
        if not agent.is_file():
            raise EnvironmentProblem(
                f"the amphora agent is not installed ({agent} is missing): run "
                f"'{INSTALL_HINT}'"
            )
        _require_packages()
        if not (NETNS_DIR / AMPHORA_NAMESPACE).exists():
            raise TestbedError(
                f"the network namespace {AMPHORA_NAMESPACE} does not exist: "
                f"create it before starting the agent ('ip netns add "
                f"{AMPHORA_NAMESPACE}'); the agent would otherwise make one of "
                "its own that nothing else can see"
            )
        _require_free_port(self.port)
        return agent

    def _prepare_files(self) -> None:
        for directory in (self.runtime_dir, self.log_dir, self.base_path):
            directory.mkdir(parents=True, exist_ok=True)
        (self.runtime_dir / "interfaces").mkdir(exist_ok=True)
        if self.certs is None:
            self.certs = generate_agent_certs(self.runtime_dir / "certs")
        with self.config_path.open("w", encoding="utf-8") as handle:
            _agent_config(self).write(handle)
        self.config_path.chmod(0o600)  # it holds the heartbeat key
        self._syslog = _SyslogSink.open(self.runtime_dir / SYSLOG_SOCKET)

    def _launch(self, agent: Path) -> None:
        # `exec` keeps the PID: the process started is the gunicorn master.
        inside = (
            f"mount --bind {shlex.quote(str(self.log_dir))} /var/log && "
            f"exec {shlex.quote(str(agent))} "
            f"--config-file {shlex.quote(str(self.config_path))}"
        )
        argv = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            inside,
        ]
        env = {
            "PATH": AGENT_PATH,
            "LANG": "C.UTF-8",
            # gunicorn (25 and later) puts a control socket under
            # $XDG_RUNTIME_DIR, else under $HOME/.gunicorn.
            "HOME": str(self.runtime_dir),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
        }
        self.process = start(
            "amphora-agent",
            argv,
            self.log_dir / "amphora-agent.stderr.log",
            env=env,
            cwd=self.runtime_dir,
        )

    def _answers(self) -> dict[str, Any] | None:
        try:
            answer = self._get("/1.0/info", 2.0)
            return answer.json() if answer.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

    def _get(self, path: str, timeout_s: float) -> requests.Response:
        assert self.certs is not None
        with requests.Session() as session:
            # Not from the environment: no proxy, no other CA bundle.
            session.trust_env = False
            return session.get(
                self.url + path,
                cert=(str(self.certs.client_cert), str(self.certs.client_key)),
                verify=str(self.certs.server_ca),
                timeout=timeout_s,
            )

    # stopping -----------------------------------------------------------

    @staticmethod
    def _terminate(process: ManagedProcess, grace_s: float) -> int | None:
        if process.alive():
            try:
                os.kill(process.pid, signal.SIGTERM)
                process.popen.wait(timeout=grace_s)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                log.warning(
                    "amphora agent (pid %s) still running %s s after SIGTERM",
                    process.pid,
                    grace_s,
                )
        return process.stop(grace_s=5.0)


def _agent_config(agent: AmphoraAgent) -> configparser.RawConfigParser:
    """The agent's oslo.config file; option names from octavia/common/config.py."""
    assert agent.certs is not None
    config = configparser.RawConfigParser()
    config["DEFAULT"] = {"debug": "False"}
    config["amphora_agent"] = {
        # The CA that signed the *client* certificates.
        "agent_server_ca": str(agent.certs.client_ca),
        "agent_server_cert": str(agent.certs.server_pem),
        # Unset, the agent writes interface files under /etc/octavia.
        "agent_server_network_dir": str(agent.runtime_dir / "interfaces"),
        "amphora_id": agent.amphora_id,
    }
    # The listen address is here, not under [amphora_agent].
    config["haproxy_amphora"] = {
        "bind_host": "127.0.0.1",
        "bind_port": str(agent.port),
        "base_path": str(agent.base_path),
    }
    config["health_manager"] = _heartbeat_options(agent)
    return config


def _heartbeat_options(agent: AmphoraAgent) -> dict[str, str]:
    if agent.heartbeat is None:
        # No destination: the sender logs "No controller address" each
        # interval, so keep Octavia's default of 10 s rather than ours.
        return {"controller_ip_port_list": "", "heartbeat_interval": "10"}
    host, port, key = agent.heartbeat
    return {
        "controller_ip_port_list": f"{host}:{port}",
        "heartbeat_key": key,
        "heartbeat_interval": str(agent.heartbeat_interval_s),
    }


def _require_packages() -> None:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\\n", *QUERIED_PACKAGES],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": AGENT_PATH},
    )
    installed = {
        line.split()[0]
        for line in done.stdout.splitlines()
        if line.endswith("install ok installed")
    }
    missing = [name for name in QUERIED_PACKAGES if name not in installed]
    if missing:
        raise EnvironmentProblem(
            f"the amphora agent answers 500 without the Debian packages "
            f"{', '.join(missing)}: run '{INSTALL_HINT}'"
        )


def _require_free_port(port: int) -> None:
    with socket.socket() as probe:
        # As gunicorn binds: connections of an earlier agent in TIME_WAIT on
        # the port do not count as in use, a listening socket does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"127.0.0.1:{port} is already in use: stop what listens "
                    "there or give the amphora agent another port "
                    "(amphora.agent_port in the profile)"
                ) from None
            raise


class _SyslogSink:
    """Receives and drops what the agent sends to its syslog socket.

    gunicorn writes every log line both to the log file and to this socket;
    without a reader there, each line also prints a "Logging error"
    traceback (about 7 kB per request) to the agent's stderr.
    """

    def __init__(self, path: Path, sock: socket.socket) -> None:
        self.path = path
        self.datagrams = 0
        self._socket = sock
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._drain, name="octperf-agent-syslog", daemon=True
        )
        self._thread.start()

    @classmethod
    def open(cls, path: Path) -> _SyslogSink | None:
        """A sink bound at ``path``, or None (the agent then only logs noise)."""
        if len(str(path)) > MAX_SOCKET_PATH:
            log.debug("%s is too long for a UNIX socket; no syslog sink", path)
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(0.25)
        return cls(path, sock)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()
        self.path.unlink(missing_ok=True)

    def _drain(self) -> None:
        while not self._stopping.is_set():
            try:
                self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams += 1
