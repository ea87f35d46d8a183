"""``octperf doctor``: can this machine run a bed, and if not, what to do.

Each check gives a state (ok, warn, missing), what was found, and the action
that fixes it. Only ``missing`` makes a bed unusable.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass

from octperf._host import package_version
from octperf.profile import Profile
from octperf.testbed import _binaries
from octperf.testbed._limits import allowed_maxconn, open_files_limits


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    testbed: str
    name: str
    state: str  # "ok", "warn" or "missing"
    found: str
    action: str = ""


def check_local(profile: Profile | None = None) -> list[Check]:
    """Every check the local bed needs, for ``profile``'s addresses."""
    profile = profile or Profile(name="doctor")
    checks = [_binary("haproxy"), _binary("nginx"), _locust(), _open_files()]
    checks += [_address(profile), _user()]
    return checks


def ready(checks: list[Check]) -> bool:
    return all(check.state != "missing" for check in checks)


def _binary(name: str) -> Check:
    path = _binaries.find(name)
    if path is None:
        package = _binaries.PACKAGES[name]
        return Check(
            "local",
            name,
            "missing",
            "not found on PATH or in /usr/sbin",
            f"sudo apt-get install {package}",
        )
    return Check("local", name, "ok", f"{_binaries.version(name)} at {path}")


def _locust() -> Check:
    version = package_version("locust")
    if version is None:
        return Check(
            "local",
            "locust",
            "missing",
            "not installed in this Python",
            "pip install -e . (or make venv)",
        )
    return Check("local", "locust", "ok", version)


def _open_files() -> Check:
    soft, hard = open_files_limits()
    allowed = allowed_maxconn(hard)
    found = f"soft {soft}, hard {hard}: HAProxy maxconn up to {allowed}"
    if allowed < 1000:
        return Check(
            "local",
            "open files",
            "warn",
            found,
            "raise the hard limit (ulimit -Hn, /etc/security/limits.conf)",
        )
    return Check("local", "open files", "ok", found)


def _address(profile: Profile) -> Check:
    vip, port = str(profile.local.vip), profile.listener.protocol_port
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # SO_REUSEADDR, as HAProxy and nginx set it: connections in TIME_WAIT on
    # the port do not count as in use, a listening socket does.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((vip, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return Check(
                "local",
                "VIP address",
                "warn",
                f"{vip}:{port} is in use",
                "stop what holds it, or set local.vip / listener.protocol_port",
            )
        return Check(
            "local",
            "VIP address",
            "missing",
            f"{vip}: {error.strerror}",
            "the local bed needs 127.0.0.0/8 to be loopback (Linux)",
        )
    finally:
        probe.close()
    return Check("local", "VIP address", "ok", f"{vip}:{port} can be bound")


def _user() -> Check:
    if os.geteuid() == 0:
        return Check("local", "user", "ok", "root: HAProxy and nginx drop to nobody")
    return Check("local", "user", "ok", "not root: fine for the local bed")
