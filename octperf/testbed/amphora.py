"""The amphora bed: HAProxy in ``amphora-haproxy`` beside the real amphora agent.

As in an amphora, HAProxy runs inside the ``amphora-haproxy`` network
namespace with the VIP on ``eth1`` and the member network on ``eth2``. The
members live in a namespace of their own, the load generator in another:

    octperf-loadgen          amphora-haproxy               octperf-members
    vip0 ───── veth ───── eth1 (VIP)   eth2 ───── veth ───── eth0 (members)

The Octavia amphora agent (its own virtualenv, mutual TLS) listens on
127.0.0.1 of the root namespace, as a controller would reach it, and sends
its heartbeat to octperf on 127.0.0.1. The bed's networks exist only inside
the namespaces; in the root namespace ``unreachable`` routes cover them while
the bed is up, and every probe is sent from inside a namespace.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

from octperf.errors import EnvironmentProblem, TestbedError
from octperf.testbed import _netns
from octperf.testbed._agent import AMPHORA_NAMESPACE, AmphoraAgent, loadbalancer_files
from octperf.testbed._bed import ProcessBed
from octperf.testbed._endpoints import AgentAccess, HeartbeatAccess

log = logging.getLogger(__name__)

MEMBERS_NAMESPACE = "octperf-members"
LOADGEN_NAMESPACE = "octperf-loadgen"

# Where each role runs: the namespace a process or a probe is started in.
NAMESPACE_OF = {"haproxy": AMPHORA_NAMESPACE, "load": LOADGEN_NAMESPACE}

# Sent from inside a namespace by _probe; exits 0 when the URL answers 200.
_PROBE = (
    "import sys, urllib.request\n"
    "try:\n"
    "    ok = urllib.request.urlopen(sys.argv[1], timeout=1).status == 200\n"
    "except Exception:\n"
    "    ok = False\n"
    "sys.exit(0 if ok else 1)\n"
)


class AmphoraBed(ProcessBed):
    """HAProxy in the ``amphora-haproxy`` namespace, members and load in theirs."""

    name = "amphora"

    def __init__(self, profile, workdir: Path) -> None:
        super().__init__(profile, workdir)
        self.namespaces = _netns.Namespaces(self.workdir / "bed" / "network.json")
        self.agent: AmphoraAgent | None = None
        self.heartbeat_key = secrets.token_hex(16)

    def _preflight(self) -> None:
        if os.geteuid() != 0:
            raise EnvironmentProblem(
                "the amphora bed needs root (network namespaces, the amphora "
                "agent): run octperf as root, or use --testbed local"
            )
        taken = set(_netns.list_namespaces()) & self._namespace_names()
        if taken:
            names = ", ".join(sorted(taken))
            raise TestbedError(
                f"network namespaces {names} already exist, perhaps left by a "
                "crashed run: run 'octperf down --force', or remove them with "
                "'ip netns delete NAME' once nothing uses them"
            )

    # networks -----------------------------------------------------------

    def _bring_up_around(self) -> None:
        bed = self.profile.amphora
        for network in (bed.vip_network, bed.member_network):
            self.namespaces.add_guard_route(str(network))
        self._check_guarded()
        for name in (AMPHORA_NAMESPACE, MEMBERS_NAMESPACE, LOADGEN_NAMESPACE):
            self.namespaces.add_namespace(name)
        self._wire_vip_network()
        self._wire_member_network()

    def _wire_vip_network(self) -> None:
        bed, ns = self.profile.amphora, self.namespaces
        prefix = bed.vip_network.prefixlen
        ns.add_veth((LOADGEN_NAMESPACE, "vip0"), (AMPHORA_NAMESPACE, "eth1"))
        ns.add_address(LOADGEN_NAMESPACE, "vip0", f"{bed.loadgen_address}/{prefix}")
        ns.add_address(AMPHORA_NAMESPACE, "eth1", f"{bed.vip}/{prefix}")

    def _wire_member_network(self) -> None:
        bed, ns = self.profile.amphora, self.namespaces
        prefix = bed.member_network.prefixlen
        ns.add_veth((AMPHORA_NAMESPACE, "eth2"), (MEMBERS_NAMESPACE, "eth0"))
        amphora_side = f"{bed.amphora_member_address}/{prefix}"
        ns.add_address(AMPHORA_NAMESPACE, "eth2", amphora_side)
        for address in bed.members:
            ns.add_address(MEMBERS_NAMESPACE, "eth0", f"{address}/{prefix}")

    def _check_guarded(self) -> None:
        """Every bed address must be unreachable from the root namespace."""
        bed = self.profile.amphora
        addresses = [bed.vip, bed.loadgen_address, bed.amphora_member_address]
        for address in [*addresses, *bed.members]:
            if not _netns.unreachable_from_root(str(address)):
                raise TestbedError(
                    f"the root namespace still routes {address} "
                    f"({_netns.route_get(str(address))}) despite the guard "
                    "routes: choose bed networks this machine does not use"
                )

    def _take_down_around(self) -> None:
        self.namespaces.teardown()

    def _namespace_names(self) -> set[str]:
        return {AMPHORA_NAMESPACE, MEMBERS_NAMESPACE, LOADGEN_NAMESPACE}

    # processes ----------------------------------------------------------

    def _wrap(self, role: str) -> list[str]:
        namespace = NAMESPACE_OF.get(role, MEMBERS_NAMESPACE)
        return self.namespaces.exec_prefix(namespace)

    def _probe(self, url: str, role: str) -> bool:
        namespace = NAMESPACE_OF.get(role, MEMBERS_NAMESPACE)
        argv = [*self.namespaces.exec_prefix(namespace), sys.executable, "-c"]
        done = subprocess.run(
            [*argv, _PROBE, url], capture_output=True, timeout=10, check=False
        )
        return done.returncode == 0

    def _haproxy_paths(self) -> tuple[Path, Path]:
        files = self._files()
        return files.config, files.stats_socket

    def _files(self):
        base_path = self._runtime() / "lb"
        return loadbalancer_files(base_path, self.profile.loadbalancer_id())

    # the amphora agent --------------------------------------------------

    def _after_haproxy(self) -> None:
        haproxy = next(p for p in self.processes if p.role == "haproxy")
        # The agent counts HAProxy as running only when its PID file names a
        # live process; `ip netns exec` execs, so the PID is HAProxy's.
        self._files().pid_file.write_text(f"{haproxy.pid}\n")
        bed = self.profile.amphora
        self.agent = AmphoraAgent(
            self._runtime() / "agent",
            self.workdir / "logs" / "amphora-agent",
            amphora_id=self.profile.amphora_id(),
            base_path=self._runtime() / "lb",
            heartbeat=("127.0.0.1", bed.heartbeat_port, self.heartbeat_key),
            port=bed.agent_port,
        )
        self.agent.start()
        if self.agent.process is not None:
            self.processes.append(self.agent.process)

    def _before_down(self) -> None:
        if self.agent is not None:
            self.agent.stop()
            self.processes = [p for p in self.processes if p is not self.agent.process]
            self.agent = None

    def _extra_endpoints(self) -> dict:
        assert self.agent is not None and self.agent.certs is not None
        certs = self.agent.certs
        bed = self.profile.amphora
        return {
            "load_prefix": tuple(self.namespaces.exec_prefix(LOADGEN_NAMESPACE)),
            "agent": AgentAccess(
                url=self.agent.url,
                client_cert=certs.client_cert,
                client_key=certs.client_key,
                server_ca=certs.server_ca,
            ),
            "heartbeat": HeartbeatAccess(
                host="127.0.0.1", port=bed.heartbeat_port, key=self.heartbeat_key
            ),
        }

    def versions(self) -> dict[str, str | None]:
        versions = super().versions()
        if self.agent is not None:
            info = self.agent.info()
            versions["amphora_agent_api"] = str(info.get("api_version"))
            versions["haproxy_per_agent"] = str(info.get("haproxy_version"))
        return versions


def force_down(workdir: Path) -> int:
    """Remove the namespaces and routes a crashed amphora bed recorded."""
    return _netns.undo_ledger(Path(workdir) / "bed" / "network.json")


__all__ = ["AmphoraBed", "force_down"]
