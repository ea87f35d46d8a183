"""Network namespaces, veth pairs and guard routes for the amphora bed.

Every object made here is written to a ledger file before it is made, so a
teardown (or a later ``down --force``) removes exactly what this bed added,
by name, and nothing else. Interfaces are created directly inside their
namespaces: none ever exists in the root namespace.

The root namespace of a typical machine routes unknown addresses off the
machine. While the bed is up, an ``unreachable`` route covers each bed
network there, so nothing sent from the root namespace by mistake can leave.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

from octperf.errors import TestbedError

log = logging.getLogger(__name__)

IP = "ip"


class Namespaces:
    """Namespaces, links and routes made for one bed, undone in reverse."""

    def __init__(self, ledger: Path) -> None:
        self.ledger = ledger
        self.made: list[dict[str, str]] = []

    def exec_prefix(self, namespace: str) -> list[str]:
        """The argv prefix that runs a command inside ``namespace``."""
        return [IP, "netns", "exec", namespace]

    def add_namespace(self, name: str) -> None:
        """Create ``name`` with its loopback up; refuse one that already exists."""
        if name in list_namespaces():
            raise TestbedError(
                f"network namespace {name} already exists, perhaps left by a "
                f"crashed run: check nothing uses it ('ip netns pids {name}'), "
                f"then remove it with 'ip netns delete {name}'"
            )
        self._record({"kind": "netns", "name": name})
        _ip("netns", "add", name)
        _ip("-n", name, "link", "set", "lo", "up")

    def add_veth(self, left: tuple[str, str], right: tuple[str, str]) -> None:
        """A veth pair from (namespace, interface) to (namespace, interface)."""
        (left_ns, left_if), (right_ns, right_if) = left, right
        _ip(
            *("link", "add", left_if, "netns", left_ns, "type", "veth"),
            *("peer", "name", right_if, "netns", right_ns),
        )
        for namespace, interface in (left, right):
            _ip("-n", namespace, "link", "set", interface, "up")

    def add_address(self, namespace: str, interface: str, address: str) -> None:
        """Add ``address`` (with its prefix length) to an interface."""
        _ip("-n", namespace, "address", "add", address, "dev", interface)

    def add_guard_route(self, network: str) -> None:
        """An ``unreachable`` route for ``network`` in the root namespace.

        Refused when the root namespace already routes that exact network,
        which would mean the range is in real use on this machine.
        """
        existing = _ip("route", "show", "exact", network).strip()
        if existing:
            raise TestbedError(
                f"the root namespace already routes {network} ({existing}); "
                "choose other bed networks in the profile (amphora.vip_network, "
                "amphora.member_network)"
            )
        self._record({"kind": "route", "network": network})
        _ip("route", "add", "unreachable", network)

    def teardown(self) -> None:
        """Remove everything recorded, newest first; keep going past failures."""
        for item in reversed(self.made):
            _undo(item)
        self.made.clear()
        self.ledger.unlink(missing_ok=True)

    def _record(self, item: dict[str, str]) -> None:
        self.made.append(item)
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        self.ledger.write_text(json.dumps(self.made, indent=2) + "\n")


def list_namespaces() -> list[str]:
    """Names of the network namespaces on this machine."""
    output = _ip("netns", "list")
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def route_get(address: str) -> str:
    """What the root namespace would do with a packet to ``address``.

    ``ip route get`` only looks the route up; nothing is sent.
    """
    done = subprocess.run(
        [IP, "route", "get", address], capture_output=True, text=True, check=False
    )
    return (done.stdout + done.stderr).strip()


def unreachable_from_root(address: str) -> bool:
    """True when the root namespace refuses to route to ``address``.

    With an ``unreachable`` route, ``ip route get`` fails with "No route to
    host" (iproute2 6.1); some versions print the route instead.
    """
    answer = route_get(address)
    return "No route to host" in answer or answer.startswith("unreachable")


def undo_ledger(ledger: Path) -> int:
    """Remove what a ledger lists (a crashed bed's leftovers); count removed."""
    try:
        items = json.loads(ledger.read_text())
    except (OSError, ValueError):
        return 0
    for item in reversed(items):
        _undo(item)
    ledger.unlink(missing_ok=True)
    return len(items)


def _undo(item: dict[str, str]) -> None:
    try:
        if item["kind"] == "netns":
            _ip("netns", "delete", item["name"])
        elif item["kind"] == "route":
            _ip("route", "del", "unreachable", item["network"])
    except TestbedError as error:
        log.warning("could not remove %s: %s", item, error)


def _ip(*args: str) -> str:
    done = subprocess.run([IP, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        command = " ".join([IP, *args])
        raise TestbedError(f"'{command}' failed: {done.stderr.strip()}")
    return done.stdout
