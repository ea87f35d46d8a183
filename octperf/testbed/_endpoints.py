"""What every test bed hands to the load and the collectors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AgentAccess:
    """How to reach an amphora agent: its URL and the mutual-TLS files."""

    url: str
    client_cert: Path
    client_key: Path
    server_ca: Path


@dataclass(frozen=True)
class HeartbeatAccess:
    """Where the agent's UDP heartbeat arrives, and its HMAC key."""

    host: str
    port: int
    key: str = field(repr=False)


@dataclass(frozen=True)
class Endpoints:
    """How to reach a bed that is up.

    ``frontend`` and ``backend`` are HAProxy proxy names (``pxname``) as the
    stats socket reports them: the listener UUID and ``<pool>:<listener>``.
    """

    testbed: str
    vip_url: str
    stats_socket: Path
    frontend: str
    backend: str
    maxconn: int
    maxconn_note: str | None = None
    processes: dict[str, int] = field(default_factory=dict)
    load_prefix: tuple[str, ...] = ()
    """argv prefix that places the load generator (a namespace), if any."""
    agent: AgentAccess | None = None
    heartbeat: HeartbeatAccess | None = None

    def to_manifest(self) -> dict[str, Any]:
        """What the manifest records; never key material."""
        data = asdict(self)
        data["stats_socket"] = str(self.stats_socket)
        data["load_prefix"] = list(self.load_prefix)
        if self.agent is not None:
            data["agent"] = {"url": self.agent.url}
        if self.heartbeat is not None:
            data["heartbeat"] = {
                "host": self.heartbeat.host,
                "port": self.heartbeat.port,
            }
        data["processes"] = [{"role": r, "pid": p} for r, p in self.processes.items()]
        return data
