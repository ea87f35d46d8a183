"""The local bed: HAProxy and nginx members as processes on 127.0.0.0/8.

No root, no namespaces: the VIP and the members are loopback addresses
(all of 127.0.0.0/8 answers on Linux).
"""

from __future__ import annotations

import errno
import logging
import os
import socket

import psutil
import requests

from octperf.errors import PortInUse, TestbedError
from octperf.testbed._bed import ProcessBed

log = logging.getLogger(__name__)


class LocalBed(ProcessBed):
    """HAProxy in front of nginx members, all on loopback addresses."""

    name = "local"

    def _preflight(self) -> None:
        bed = self.profile.local
        wanted = [(str(bed.vip), self.profile.listener.protocol_port)]
        wanted += [(str(address), bed.member_port) for address in bed.members]
        for address, port in wanted:
            _check_port_free(address, port)

    def _probe(self, url: str, role: str) -> bool:
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False


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
            f"{address}:{port} is already in use{_owner(address, port)}: stop "
            "that process "
            "or choose other addresses or ports in the profile (local.vip, "
            "local.members, local.member_port, listener.protocol_port)"
        ) from None
    finally:
        probe.close()


def _owner(address: str, port: int) -> str:
    """Who listens on ``address:port`` (or the wildcard), as "by NAME pid N".

    The PID named is the listener's process group leader (nginx's master,
    not the worker holding the socket), the one to stop.
    """
    try:
        for conn in psutil.net_connections("tcp"):
            local = conn.laddr
            if not local or local.port != port or conn.status != "LISTEN":
                continue
            if local.ip in (address, "0.0.0.0", "::") and conn.pid:
                leader = os.getpgid(conn.pid)
                return f" (by {psutil.Process(leader).name()} pid {leader})"
    except (OSError, psutil.Error):
        pass
    return ""
