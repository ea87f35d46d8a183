"""What every test bed hands to the load and the collectors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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

    def to_manifest(self) -> dict[str, Any]:
        data = asdict(self)
        data["stats_socket"] = str(self.stats_socket)
        data["processes"] = [{"role": r, "pid": p} for r, p in self.processes.items()]
        return data
