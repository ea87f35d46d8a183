"""What every test bed hands to the load and the collectors."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from octperf.errors import TestbedError


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


@dataclass(frozen=True)
class BedState:
    """A bed that is up, as another process needs it to attach: a sweep's steps
    run in notebook kernels while the sweep process keeps the bed up.

    The file holds the heartbeat key, so it is written 0600 in a private
    directory and never copied into a run.
    """

    endpoints: Endpoints
    versions: dict[str, str | None]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        data = {"endpoints": _endpoints_dict(self.endpoints), "versions": self.versions}
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> BedState:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(_endpoints_from(data["endpoints"]), data["versions"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise TestbedError(
                f"{path} does not describe a bed that is up ({error!r}); bring "
                "the bed up again (octperf sweep does it for its steps)"
            ) from None


def _endpoints_dict(endpoints: Endpoints) -> dict[str, Any]:
    data = asdict(endpoints)
    return json.loads(json.dumps(data, default=str))


def _endpoints_from(data: dict[str, Any]) -> Endpoints:
    data = dict(data)
    data["stats_socket"] = Path(data["stats_socket"])
    data["load_prefix"] = tuple(data.get("load_prefix") or ())
    if data.get("agent"):
        agent = data["agent"]
        data["agent"] = AgentAccess(
            agent["url"],
            *(Path(agent[k]) for k in ("client_cert", "client_key", "server_ca")),
        )
    if data.get("heartbeat"):
        data["heartbeat"] = HeartbeatAccess(**data["heartbeat"])
    return Endpoints(**data)
