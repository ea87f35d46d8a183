"""SSHHost against a real sshd: host keys, connection reuse, one-line errors."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import psutil
import pytest

from octperf.errors import CollectorError
from tests.helpers import assert_gone
from tests.ssh.conftest import LocalSSHD, fingerprint, keygen, known_hosts_line


def test_commands_share_one_connection(sshd: LocalSSHD, transports):
    """Three commands, one SSH connection; each returns its own stdout."""
    ssh = sshd.connect()

    answers = [ssh.run(f"echo {n}") for n in range(3)]

    assert answers == ["0\n", "1\n", "2\n"]
    assert len(transports) == 1


def test_close_ends_the_connection_and_the_next_command_reopens_it(
    sshd: LocalSSHD, transports
):
    """After close() the transport is down; a later command connects anew."""
    ssh = sshd.connect()
    ssh.run("true")

    ssh.close()
    ssh.close()  # a second close does nothing

    assert not transports[0].is_active()
    assert ssh.run("echo again") == "again\n"
    assert len(transports) == 2


def test_connection_lost_under_it_is_reopened_by_the_next_command(
    sshd: LocalSSHD, transports
):
    """A transport closed behind SSHHost's back does not break the next command."""
    ssh = sshd.connect()
    ssh.run("true")

    transports[0].close()

    assert ssh.run("echo back") == "back\n"
    assert len(transports) == 2


def test_failing_command_raises_with_its_exit_code_and_stderr(sshd: LocalSSHD):
    """Exit 3 after printing ``oops`` on stderr: both are in the message."""
    ssh = sshd.connect()

    with pytest.raises(CollectorError) as raised:
        ssh.run("echo first >&2; echo oops >&2; exit 3")

    assert "exited with 3: oops" in str(raised.value)


def test_command_over_the_timeout_is_cut_and_the_host_stays_usable(
    sshd: LocalSSHD, tmp_path: Path
):
    """A command longer than timeout_s raises; the next command reconnects."""
    # Not less: the login shell alone may take a second on a loaded machine.
    ssh = sshd.connect(timeout_s=3)
    pid_file = tmp_path / "sleep.pid"

    try:
        with pytest.raises(CollectorError, match="did not finish within 3 s"):
            ssh.run(f"echo $$ > {pid_file}; exec sleep 60")
        assert ssh.run("echo fine") == "fine\n"
    finally:
        # Dropping the connection leaves the command running on the host.
        _end_by_pid(pid_file, "sleep")


def test_unknown_host_is_refused_with_its_fingerprint_and_the_fix(
    sshd: LocalSSHD, tmp_path: Path
):
    """An empty known_hosts refuses the host, names the fix and stays empty."""
    known_hosts = tmp_path / "empty_known_hosts"
    known_hosts.write_text("")
    ssh = sshd.connect(known_hosts=known_hosts)

    with pytest.raises(CollectorError) as raised:
        ssh.run("true")

    message = str(raised.value)
    assert f"SSH host 127.0.0.1 port {sshd.port} is not in {known_hosts}" in message
    assert fingerprint(sshd.host_key) in message
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {known_hosts}" in message
    assert "\n" not in message
    assert known_hosts.read_text() == ""  # never added


def test_changed_host_key_is_refused_with_both_fingerprints(
    sshd: LocalSSHD, tmp_path: Path
):
    """A known_hosts entry with another key refuses the host and says how to fix it."""
    impostor = keygen(tmp_path / "other_host_key")
    known_hosts = tmp_path / "changed_known_hosts"
    known_hosts.write_text(known_hosts_line(sshd.port, impostor))
    ssh = sshd.connect(known_hosts=known_hosts)

    with pytest.raises(CollectorError) as raised:
        ssh.run("true")

    message = str(raised.value)
    assert f"SSH host key of 127.0.0.1 port {sshd.port} does not match" in message
    assert f"offered ssh-ed25519 {fingerprint(sshd.host_key)}" in message
    assert f"file has ssh-ed25519 {fingerprint(impostor)}" in message
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {known_hosts}" in message
    assert "\n" not in message


def test_entry_for_another_port_does_not_vouch_for_this_one(
    sshd: LocalSSHD, tmp_path: Path
):
    """known_hosts entries are per port: the right key under port 22 is unknown here."""
    known_hosts = tmp_path / "port_22_known_hosts"
    key_line = known_hosts_line(sshd.port, sshd.host_key).split(" ", 1)[1]
    known_hosts.write_text(f"127.0.0.1 {key_line}")

    with pytest.raises(CollectorError, match="is not in"):
        sshd.connect(known_hosts=known_hosts).run("true")


def test_missing_known_hosts_file_is_refused(sshd: LocalSSHD, tmp_path: Path):
    """No known_hosts file: refused, with how to create one."""
    missing = tmp_path / "nowhere"

    with pytest.raises(CollectorError, match=f"cannot read known_hosts file {missing}"):
        sshd.connect(known_hosts=missing).run("true")


def test_key_the_host_does_not_authorize_is_refused(sshd: LocalSSHD, tmp_path: Path):
    """A valid key absent from authorized_keys: refused, naming user and key."""
    stranger = keygen(tmp_path / "stranger_key")

    with pytest.raises(CollectorError) as raised:
        sshd.connect(key_file=stranger).run("true")

    message = str(raised.value)
    assert f"refused user {sshd.user} with the key {stranger}" in message
    assert "\n" not in message


def test_file_that_is_not_a_key_is_refused_before_connecting(
    sshd: LocalSSHD, tmp_path: Path, transports
):
    """A garbage key file is reported as such; no connection is attempted."""
    garbage = tmp_path / "garbage_key"
    garbage.write_text("not a key\n")

    with pytest.raises(CollectorError, match="is not an ed25519, ECDSA or RSA"):
        sshd.connect(key_file=garbage).run("true")
    assert transports == []


def test_port_nobody_listens_on_is_refused(sshd: LocalSSHD):
    """Connection refused: the message says to check sshd and the port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # bound, not listening: refuses
        port = taken.getsockname()[1]

        with pytest.raises(CollectorError) as raised:
            sshd.connect(port=port).run("true")

    assert f"port {port}: connection refused" in str(raised.value)


def test_port_that_never_greets_times_out(sshd: LocalSSHD):
    """A listener that sends no SSH banner ends in a timeout naming timeout_s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]

        with pytest.raises(CollectorError) as raised:
            sshd.connect(port=port, timeout_s=0.5).run("true")

    assert f"no answer from SSH at 127.0.0.1 port {port} within 0.5 s" in str(
        raised.value
    )


def _end_by_pid(pid_file: Path, name: str) -> None:
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    with contextlib.suppress(psutil.NoSuchProcess):
        process = psutil.Process(pid)
        if process.name() == name:
            process.terminate()
    assert_gone([pid])
