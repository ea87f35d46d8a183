"""A real OpenSSH server on loopback for the SSH transport tests.

Its host key and the client's key are made by ssh-keygen in the test's
tmp_path, and sshd reads only the configuration written there: nothing under
/etc/ssh is used. It is stopped by process group after the test, and the
per-connection processes it forked (each in a session of its own, so not in
that group) are ended by PID.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
import psutil
import pytest

from octperf._process import ManagedProcess, start, wait_until
from octperf.collectors.ssh import SSHHost
from tests.collectors.conftest import free_port, haproxy  # noqa: F401  (fixture)
from tests.helpers import assert_gone

SSHD = Path("/usr/sbin/sshd")
LOOPBACK = "127.0.0.1"

# As root, sshd refuses to start without this directory, its privilege
# separation chroot. The path is compiled in: no sshd_config option moves it.
PRIVSEP_DIR = Path("/run/sshd")

CONFIG = """\
ListenAddress {address}
Port {port}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
AllowUsers {user}
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
# tmp_path lies under the world-writable /tmp, which StrictModes refuses.
StrictModes no
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
LogLevel VERBOSE
"""


@dataclass
class LocalSSHD:
    """The running sshd, the keys it trusts and the SSHHosts made for it."""

    port: int
    user: str
    key_file: Path
    known_hosts: Path
    host_key: Path
    tmp: Path
    process: ManagedProcess
    hosts: list[SSHHost] = field(default_factory=list)

    host = LOOPBACK

    def connect(self, **changes: Any) -> SSHHost:
        """An SSHHost for this server (closed after the test); ``changes``
        replace its arguments."""
        arguments: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "key_file": self.key_file,
            "known_hosts": self.known_hosts,
        }
        ssh = SSHHost(**{**arguments, **changes})
        self.hosts.append(ssh)
        return ssh

    def descendants(self) -> list[psutil.Process]:
        """Every process sshd forked that still runs (connections, commands)."""
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[LocalSSHD]:
    """OpenSSH's sshd on a free loopback port, accepting one generated key."""
    if not os.access(SSHD, os.X_OK):
        pytest.skip(f"no sshd at {SSHD}: apt-get install openssh-server")
    _ensure_privsep_dir()
    host_key = keygen(tmp_path / "host_key")
    client_key = keygen(tmp_path / "client_key")
    authorized_keys = tmp_path / "authorized_keys"
    authorized_keys.write_text(public_key(client_key))
    port = free_port()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts_line(port, host_key))

    config = tmp_path / "sshd_config"
    config.write_text(
        CONFIG.format(
            address=LOOPBACK,
            port=port,
            host_key=host_key,
            pid_file=tmp_path / "sshd.pid",
            authorized_keys=authorized_keys,
            user=getpass.getuser(),
        )
    )
    argv = [str(SSHD), "-D", "-e", "-f", str(config)]
    process = start("sshd", argv, tmp_path / "sshd.log")
    server = LocalSSHD(
        port, getpass.getuser(), client_key, known_hosts, host_key, tmp_path, process
    )
    try:
        wait_until(lambda: greets(port), 10, "sshd's banner", process)
        yield server
    finally:
        _stop(server)


@pytest.fixture
def transports(monkeypatch: pytest.MonkeyPatch) -> list[paramiko.Transport]:
    """Every SSH transport (TCP connection) started from now on."""
    started: list[paramiko.Transport] = []
    original = paramiko.Transport.start_client

    def counting(self: paramiko.Transport, *args, **kwargs):
        started.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(paramiko.Transport, "start_client", counting)
    return started


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kind of every SSH channel opened from now on (one per command)."""
    opened: list[str] = []
    original = paramiko.Transport.open_channel

    def counting(self: paramiko.Transport, kind: str, *args, **kwargs):
        opened.append(kind)
        return original(self, kind, *args, **kwargs)

    monkeypatch.setattr(paramiko.Transport, "open_channel", counting)
    return opened


def _stop(server: LocalSSHD) -> None:
    forked = server.descendants()
    for ssh in server.hosts:
        ssh.close()
    server.process.stop()
    # Connections sshd forked live in sessions of their own: end any that
    # the closed clients left, by PID (psutil refuses a reused PID).
    for process in forked:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    assert_gone([server.process.pid, *(process.pid for process in forked)])


def _ensure_privsep_dir() -> None:
    # Created when missing, and left in place: Debian's own ssh service
    # makes the same directory at boot, and a concurrent test session's sshd
    # may be using it.
    if os.geteuid() == 0 and not PRIVSEP_DIR.exists():
        PRIVSEP_DIR.mkdir()
        PRIVSEP_DIR.chmod(0o755)


def keygen(path: Path) -> Path:
    """A new passphrase-less ed25519 key at ``path`` (``path.pub`` beside it)."""
    argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "octperf-test"]
    subprocess.run([*argv, "-f", str(path)], check=True)
    return path


def public_key(key: Path) -> str:
    """The ``type base64`` line of a key's public half, comment dropped."""
    key_type, data, *_ = Path(f"{key}.pub").read_text().split()
    return f"{key_type} {data}\n"


def known_hosts_line(port: int, host_key: Path) -> str:
    """The known_hosts entry of this server as OpenSSH writes it."""
    return f"[{LOOPBACK}]:{port} {public_key(host_key)}"


def fingerprint(key: Path) -> str:
    """``SHA256:...`` of a key as ssh-keygen itself computes it."""
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{key}.pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return printed.split()[1]


def greets(port: int) -> bool:
    """Whether something on the loopback port sends an SSH banner."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as conn:
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False
