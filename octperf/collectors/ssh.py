"""Collecting from hosts octperf does not run on, over SSH (fabric on paramiko).

``SSHHost`` is one SSH login, opened on first use and reused by every command
until ``close()``. The host's key is checked against a known_hosts file the
caller names; a host missing from it, or presenting another key, is refused:
never trusted on first use, never added to the file.

``RemoteCollector`` samples such a host in one round trip per sample: a
single remote ``python3`` process reads /proc and, when given, HAProxy's
stats socket, and prints each text under a boundary line. The texts are
parsed here into the tables the local collectors write (docs/ssh.md).

Why python3 and not socat: the amphora agent is a Python service, so every
amphora has python3, whereas socat is not guaranteed. One process answers
everything (socat would be forked once per command, plus ``cat``), a socket
error comes back as a labelled section rather than mixed into the output,
and the reading is stamped with the host's own monotonic clock, so rates do
not include the jitter of the SSH round trip.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import shlex
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import paramiko
from fabric import Config, Connection
from invoke.exceptions import CommandTimedOut, ThreadException

from octperf.collectors._proc import (
    Jiffies,
    NetReading,
    cpu_rows,
    memory_row,
    net_row,
    parse_loadavg,
    parse_meminfo,
    parse_net_dev,
    parse_proc_stat,
)
from octperf.collectors.haproxy import parse_show_info, parse_show_stat
from octperf.collectors.host import MIN_CPU_INTERVAL_S
from octperf.errors import CollectorError

log = logging.getLogger(__name__)

Rows = dict[str, list[dict[str, Any]]]

DEFAULT_TIMEOUT_S = 10.0
STATS_SOCKET_TIMEOUT_S = 2.0

# Run on the remote host as `python3 -I -S -c PROBE BOUNDARY SOCKET TIMEOUT`
# (isolated from the user's environment, no site packages: the standard
# library is all it needs). Kept to what Python 3.5 understands: amphora
# images are not always recent.
PROBE = """\
import socket, sys, time
boundary, stats_socket, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
out = []
def section(name, text):
    out.append("%s %s\\n%s\\n" % (boundary, name, text))
def ask(command):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    chunks = []
    try:
        conn.connect(stats_socket)
        conn.sendall(command.encode("ascii") + b"\\n")
        chunk = conn.recv(65536)
        while chunk:
            chunks.append(chunk)
            chunk = conn.recv(65536)
    finally:
        conn.close()
    return b"".join(chunks).decode("utf-8", "replace")
section("monotonic", repr(time.monotonic()))
for path in ("/proc/net/dev", "/proc/stat", "/proc/meminfo", "/proc/loadavg"):
    with open(path) as f:
        section(path, f.read())
if stats_socket:
    try:
        section("show info;show stat", ask("show info;show stat"))
    except OSError as error:
        section("error", str(error))
section("end", "")
sys.stdout.write("".join(out))
"""

# What PROBE always prints; given a stats socket, it adds either HAProxy's
# answer (STATS_SECTION) or "error".
STATS_SECTION = "show info;show stat"
HOST_SECTIONS = (
    "monotonic",
    "/proc/net/dev",
    "/proc/stat",
    "/proc/meminfo",
    "/proc/loadavg",
    "end",
)


class SSHHost:
    """One SSH login, ``user`` at ``host``:``port`` with the private ``key_file``.

    The host's key must be in ``known_hosts`` (OpenSSH format; for a port
    other than 22 the entry is ``[host]:port``). The file is read at each
    connect and never written; no other known_hosts or ssh_config file is
    read. ``timeout_s`` bounds the TCP connect, the SSH handshake, the
    authentication and each command. Every failure raises CollectorError,
    one line naming the host, the port and what to do. Safe to share between
    threads: commands run one at a time.
    """

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        key_file: str | Path,
        known_hosts: str | Path,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.key_file = Path(key_file)
        self.known_hosts = Path(known_hosts)
        self.timeout_s = timeout_s
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SSHHost({self.user}@{self.host}:{self.port})"

    def __enter__(self) -> SSHHost:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, command: str) -> str:
        """Run ``command`` through the remote user's shell and return its stdout.

        Connects first when not connected, again after a lost connection.
        Raises CollectorError when connecting fails, the command exits
        non-zero (the message has the last line of its stderr), or it does
        not finish within ``timeout_s`` (the connection is then dropped).
        """
        with self._lock:
            connection = self._connect()
            result = self._run(connection, command)
        if result.exited != 0:
            raise CollectorError(
                f"command on {self.user}@{self.host} port {self.port} exited with "
                f"{result.exited}: {_last_line(result.stderr)}"
            )
        log.debug("%r answered %d characters", self, len(result.stdout))
        return str(result.stdout)

    def close(self) -> None:
        """Close the connection if open; the next command opens a new one."""
        with self._lock:
            if self._connection is not None:
                log.info("closing SSH connection to %s port %s", self.host, self.port)
            self._drop()

    def _run(self, connection: Connection, command: str) -> Any:
        started = time.monotonic()
        try:
            result = connection.run(
                command,
                hide=True,
                warn=True,
                pty=False,
                in_stream=False,  # never forward our stdin to the host
                timeout=self.timeout_s,
                encoding="utf-8",
            )
        except CommandTimedOut:
            raise self._timed_out() from None
        except (paramiko.SSHException, OSError, EOFError, ThreadException) as error:
            self._drop()
            raise CollectorError(
                f"lost the SSH connection to {self.host} port {self.port}: "
                f"{error or type(error).__name__}; the next command reconnects"
            ) from error
        # invoke may stop a command at its timeout without raising: the
        # channel then closes with no exit status (-1), seen with no stdin.
        if result.exited == -1 and time.monotonic() - started >= self.timeout_s:
            raise self._timed_out()
        return result

    def _timed_out(self) -> CollectorError:
        self._drop()
        return CollectorError(
            f"command on {self.host} port {self.port} did not finish within "
            f"{self.timeout_s} s; the connection was dropped and the next "
            "command reconnects (is the host overloaded?)"
        )

    def _connect(self) -> Connection:
        if self._connection is not None and self._connection.is_connected:
            return self._connection
        self._drop()  # a connection the host closed

        connection = self._new_connection()
        try:
            connection.open()
        except (CollectorError, paramiko.SSHException, OSError, EOFError) as error:
            connection.client.close()  # paramiko leaves its transport thread running
            if isinstance(error, CollectorError):
                raise
            raise CollectorError(self._connect_error(error)) from error
        log.info("SSH connected to %s@%s port %s", self.user, self.host, self.port)
        self._connection = connection
        return connection

    def _new_connection(self) -> Connection:
        # An empty SSHConfig and lazy=True: no ~/.ssh/config, /etc/ssh/ssh_config
        # or fabric.yaml may change the host, user, key or add a proxy.
        connection = Connection(
            self.host,
            user=self.user,
            port=self.port,
            config=Config(ssh_config=paramiko.SSHConfig(), lazy=True),
            forward_agent=False,
            connect_kwargs={
                "pkey": self._private_key(),
                "look_for_keys": False,
                "allow_agent": False,
                "timeout": self.timeout_s,
                "banner_timeout": self.timeout_s,
                "auth_timeout": self.timeout_s,
                "channel_timeout": self.timeout_s,
            },
        )
        client = connection.client
        client.set_missing_host_key_policy(_RefuseUnknownHost(self))
        self._load_known_hosts(client)
        return connection

    def _private_key(self) -> paramiko.PKey:
        # Loaded here rather than by paramiko's connect, whose errors for an
        # unusable key file cannot be told apart from other handshake errors.
        last: Exception | None = None
        for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                return kind.from_private_key_file(str(self.key_file))
            except paramiko.SSHException as error:
                last = error
            except OSError as error:
                raise CollectorError(
                    f"cannot read SSH key file {self.key_file} for {self.host} "
                    f"port {self.port}: {error.strerror}"
                ) from None
        raise CollectorError(
            f"SSH key file {self.key_file} for {self.host} port {self.port} is not "
            f"an ed25519, ECDSA or RSA private key without a passphrase ({last}); "
            "give such a key (ssh-keygen -t ed25519 -N '')"
        )

    def _load_known_hosts(self, client: paramiko.SSHClient) -> None:
        # "System" host keys: paramiko only reads them, never saves them back.
        try:
            client.load_system_host_keys(str(self.known_hosts))
        except OSError as error:
            raise CollectorError(
                f"cannot read known_hosts file {self.known_hosts} for SSH to "
                f"{self.host} port {self.port}: {error.strerror}; create it with "
                f"`ssh-keyscan -p {self.port} {self.host} >> {self.known_hosts}` "
                "after checking the fingerprint on the host"
            ) from None

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.client.close()
            self._connection = None

    def _connect_error(self, error: BaseException) -> str:
        where = f"SSH at {self.host} port {self.port}"
        if isinstance(error, paramiko.BadHostKeyException):
            return self._changed_key_message(error)
        if isinstance(error, paramiko.AuthenticationException):
            return (
                f"{where} refused user {self.user} with the key {self.key_file}: "
                "add its public key to that user's ~/.ssh/authorized_keys on the "
                "host, or give the user and key that are there"
            )
        if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
            return (
                f"cannot connect to {where}: connection refused; check that sshd "
                "runs there and listens on that port"
            )
        if isinstance(error, socket.gaierror):
            return f"cannot resolve SSH host {self.host!r}: {error.strerror}"
        # A handshake that times out is "Error reading SSH protocol banner" or,
        # when paramiko's own wait ends first, "No existing session".
        timed_out = ("protocol banner", "No existing session")
        if isinstance(error, TimeoutError) or any(m in str(error) for m in timed_out):
            return (
                f"no answer from {where} within {self.timeout_s} s: check the "
                "address, the port, and any firewall or security group on the way"
            )
        return f"cannot connect to {where} as {self.user}: {error}"

    def _changed_key_message(self, error: paramiko.BadHostKeyException) -> str:
        entry = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        return (
            f"SSH host key of {self.host} port {self.port} does not match "
            f"{self.known_hosts}: the host offered {_describe(error.key)}, the "
            f"file has {_describe(error.expected_key)}. If the host was rebuilt, "
            "check the new fingerprint on the host itself, then replace the entry: "
            f"`ssh-keygen -R '{entry}' -f {self.known_hosts} && ssh-keyscan "
            f"-p {self.port} {self.host} >> {self.known_hosts}`; if not, do not "
            "connect: another machine may be answering for it"
        )


class _RefuseUnknownHost(paramiko.RejectPolicy):
    """Refuses a host whose key is not in known_hosts, saying how to add it."""

    def __init__(self, ssh: SSHHost) -> None:
        self.ssh = ssh

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        host, port, known_hosts = self.ssh.host, self.ssh.port, self.ssh.known_hosts
        raise CollectorError(
            f"SSH host {host} port {port} is not in {known_hosts} (it offered "
            f"{_describe(key)}): check that fingerprint on the host itself "
            "(`ssh-keygen -lf` on its /etc/ssh/ssh_host_*_key.pub), then add it: "
            f"`ssh-keyscan -p {port} {host} >> {known_hosts}`"
        )


def _describe(key: paramiko.PKey) -> str:
    """A key's type and OpenSSH fingerprint, as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    fingerprint = base64.b64encode(digest).decode("ascii").rstrip("=")
    return f"{key.get_name()} SHA256:{fingerprint}"


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(nothing on stderr)"


class RemoteCollector:
    """Samples a host over SSH: host tables and, given ``stats_socket``, HAProxy's.

    ``stats_socket`` is the path of HAProxy's stats socket on that host; the
    SSH user must be allowed to open it. ``interfaces`` limits ``host_net``
    to those names (all when None). Every row has a ``host`` column
    (``ssh.host``) after ``ts``. Percentages and rates cover the time
    between this collector's readings, on the host's own clock; ``host_cpu``
    is empty on the first sample and None after less than
    MIN_CPU_INTERVAL_S. The python3 on the host needs no package.
    """

    def __init__(
        self,
        ssh: SSHHost,
        stats_socket: str | Path | None = None,
        name: str | None = None,
        interfaces: Iterable[str] | None = None,
    ) -> None:
        self.ssh = ssh
        self.stats_socket = None if stats_socket is None else str(stats_socket)
        self.name = name or f"ssh-{ssh.host}:{ssh.port}"
        self.interfaces = None if interfaces is None else set(interfaces)
        self._boundary = f"--octperf-{secrets.token_hex(8)}"
        self._command = probe_command(self._boundary, self.stats_socket)
        self._cpu: dict[str, Jiffies] | None = None
        self._cpu_at = 0.0
        self._net: dict[str, NetReading] = {}
        self._missing_warned: set[str] = set()

    def sample(self, ts: float) -> Rows:
        """Rows of ``host_cpu``, ``host_memory``, ``host_net``, ``host_load`` and,
        with a stats socket, ``haproxy_stat`` and ``haproxy_info``.

        One remote command. Raises CollectorError when SSH fails or the stats
        socket cannot be read; in the latter case the host readings still
        become the base of the next sample's percentages and rates.
        """
        sections = split_sections(self.ssh.run(self._command), self._boundary)
        tables = self._host_tables(sections)
        if self.stats_socket is not None:
            tables.update(self._haproxy_tables(sections))

        host = self.ssh.host
        return {
            table: [{"ts": ts, "host": host, **row} for row in rows]
            for table, rows in tables.items()
        }

    def _host_tables(self, sections: dict[str, str]) -> Rows:
        missing = [name for name in HOST_SECTIONS if name not in sections]
        if missing:
            raise CollectorError(
                f"answer from {self.ssh.host} port {self.ssh.port} lacks {missing} "
                "(cut short?)"
            )
        monotonic = float(sections["monotonic"])
        jiffies = parse_proc_stat(sections["/proc/stat"])
        counters = parse_net_dev(sections["/proc/net/dev"])
        return {
            "host_cpu": self._cpu_rows(jiffies, monotonic),
            "host_memory": [memory_row(parse_meminfo(sections["/proc/meminfo"]))],
            "host_net": self._net_rows(counters, monotonic),
            "host_load": [parse_loadavg(sections["/proc/loadavg"])],
        }

    def _cpu_rows(self, jiffies: dict[str, Jiffies], monotonic: float) -> list[Any]:
        if self._cpu is None:
            self._cpu, self._cpu_at = jiffies, monotonic
            return []
        # After too short an interval the previous reading stays the base:
        # compared with itself it gives unknown (None) percentages.
        before = self._cpu
        if monotonic - self._cpu_at >= MIN_CPU_INTERVAL_S:
            self._cpu, self._cpu_at = jiffies, monotonic
        return cpu_rows(before, self._cpu)

    def _net_rows(
        self, counters: dict[str, dict[str, int]], monotonic: float
    ) -> list[Any]:
        self._warn_missing(counters)
        rows = []
        for interface, current in counters.items():
            if self.interfaces is None or interface in self.interfaces:
                reading = NetReading(monotonic, current)
                previous = self._net.get(interface)
                self._net[interface] = reading
                rows.append({"interface": interface, **net_row(previous, reading)})
        return rows

    def _warn_missing(self, counters: dict[str, dict[str, int]]) -> None:
        missing = (self.interfaces or set()) - set(counters) - self._missing_warned
        if missing:
            self._missing_warned |= missing
            log.warning(
                "interfaces %s not on %s (it has %s); no host_net rows for them",
                sorted(missing),
                self.ssh.host,
                sorted(counters),
            )

    def _haproxy_tables(self, sections: dict[str, str]) -> Rows:
        if "error" in sections:
            raise CollectorError(
                f"HAProxy stats socket {self.stats_socket} on {self.ssh.host}: "
                f"{sections['error'].strip()}; check that HAProxy runs there, that "
                "its `stats socket` line names this path and that SSH user "
                f"{self.ssh.user} may open it"
            )
        # One connection for both commands, so both answers come from the same
        # HAProxy process even while a reload hands the socket over. Each
        # answer ends with a blank line (management guide, section 9.3).
        info, _, stat = sections[STATS_SECTION].partition("\n\n")
        return {
            "haproxy_stat": parse_show_stat(stat),
            "haproxy_info": [parse_show_info(info)],
        }


def probe_command(boundary: str, stats_socket: str | None) -> str:
    """The shell command that runs PROBE on a host, arguments quoted."""
    argv = ["python3", "-I", "-S", "-c", PROBE, boundary, stats_socket or ""]
    return shlex.join([*argv, str(STATS_SOCKET_TIMEOUT_S)])


def split_sections(text: str, boundary: str) -> dict[str, str]:
    """PROBE's output as section name to text; anything before the first
    boundary line (a login banner, say) is ignored.

    Raises CollectorError when the ``end`` section is missing: the output
    was cut short.
    """
    sections = {}
    for piece in ("\n" + text).split(f"\n{boundary} ")[1:]:
        name, _, body = piece.partition("\n")
        sections[name] = body
    if "end" not in sections:
        raise CollectorError(
            f"remote probe output has no end marker (cut short?): {text[-80:]!r}"
        )
    return sections
