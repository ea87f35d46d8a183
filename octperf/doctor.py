"""``octperf doctor``: can this machine run a bed, and if not, what to do.

Each check gives a state (ok, warn, missing), what was found, and the action
that fixes it. Only ``missing`` makes a bed unusable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from octperf._host import package_version
from octperf.errors import TestbedError
from octperf.profile import Profile
from octperf.testbed import _binaries
from octperf.testbed._agent import AGENT_VENV, QUERIED_PACKAGES
from octperf.testbed._limits import allowed_maxconn, open_files_limits
from octperf.testbed.local import _check_port_free


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


def check_amphora(profile: Profile | None = None) -> list[Check]:
    """Every check the amphora bed needs on top of the local bed's binaries."""
    profile = profile or Profile(name="doctor", testbed="amphora")
    checks = [_root(), _iproute(), _agent_venv(), _agent_packages()]
    bed = profile.amphora
    checks += [
        _loopback_port("agent port", bed.agent_port, "amphora.agent_port"),
        _loopback_port("heartbeat port", bed.heartbeat_port, "amphora.heartbeat_port"),
        _networks_unused(profile),
    ]
    return checks


def ready(checks: list[Check], testbed: str = "local") -> bool:
    """True when no check of ``testbed`` is missing."""
    return all(c.state != "missing" for c in checks if c.testbed == testbed)


def _root() -> Check:
    if os.geteuid() == 0:
        return Check("amphora", "root", "ok", "running as root")
    return Check(
        "amphora",
        "root",
        "missing",
        "not root",
        "run octperf as root (sudo) for the amphora bed",
    )


def _iproute() -> Check:
    path = shutil.which("ip", path=_binaries.search_path())
    if path is None:
        return Check(
            "amphora",
            "ip",
            "missing",
            "iproute2 not found",
            "sudo apt-get install iproute2",
        )
    return Check("amphora", "ip", "ok", path)


def _agent_venv() -> Check:
    agent = AGENT_VENV / "bin" / "amphora-agent"
    if not agent.is_file():
        return Check(
            "amphora",
            "amphora agent",
            "missing",
            f"no {agent}",
            "sudo make agent (scripts/install-agent.sh)",
        )
    return Check("amphora", "amphora agent", "ok", f"octavia in {AGENT_VENV}")


def _agent_packages() -> Check:
    missing = [name for name in QUERIED_PACKAGES if not _dpkg_installed(name)]
    if missing:
        return Check(
            "amphora",
            "agent packages",
            "missing",
            f"not installed: {', '.join(missing)}",
            f"sudo apt-get install {' '.join(missing)}",
        )
    return Check("amphora", "agent packages", "ok", ", ".join(QUERIED_PACKAGES))


def _loopback_port(name: str, port: int, key: str) -> Check:
    try:
        _check_port_free("127.0.0.1", port)
    except TestbedError as error:
        return Check(
            "amphora",
            name,
            "warn",
            str(error).split(":")[0] + f":{port}",
            f"stop what holds it, or set {key}",
        )
    return Check("amphora", name, "ok", f"127.0.0.1:{port} is free")


def _networks_unused(profile: Profile) -> Check:
    bed = profile.amphora
    networks = (str(bed.vip_network), str(bed.member_network))
    used = [n for n in networks if _routed_exactly(n)]
    if used:
        return Check(
            "amphora",
            "bed networks",
            "warn",
            f"already routed here: {', '.join(used)}",
            "set amphora.vip_network and amphora.member_network",
        )
    return Check("amphora", "bed networks", "ok", f"{', '.join(networks)} unused")


def _routed_exactly(network: str) -> bool:
    done = subprocess.run(
        ["ip", "route", "show", "exact", network],
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(done.stdout.strip())


def _dpkg_installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return "install ok installed" in done.stdout


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
    bed, port = profile.local, profile.listener.protocol_port
    wanted = [(str(bed.vip), port)]
    wanted += [(str(member), bed.member_port) for member in bed.members]
    try:
        for address, wanted_port in wanted:
            _check_port_free(address, wanted_port)
    except TestbedError as error:
        # The message already says what holds the port and what to change.
        return Check("local", "addresses", "missing", str(error))
    shown = f"VIP {bed.vip}:{port} and {len(bed.members)} members"
    return Check("local", "addresses", "ok", f"{shown} can be bound")


def _user() -> Check:
    if os.geteuid() == 0:
        return Check("local", "user", "ok", "root: HAProxy and nginx drop to nobody")
    return Check("local", "user", "ok", "not root: fine for the local bed")
