"""The environment variables through which octperf tells Locust what to do.

Read only here (by the locustfile, inside the Locust processes) and written
only here (by ``LocustLoad``), so the two sides cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from octperf.errors import ConfigError

OBJECT_PATH = "OCTPERF_OBJECT_PATH"
KEEP_ALIVE = "OCTPERF_KEEP_ALIVE"
THINK_TIME_S = "OCTPERF_THINK_TIME_S"
TABLES_DIR = "OCTPERF_TABLES_DIR"
RESULT = "OCTPERF_LOCUST_RESULT"

FINAL_REPORT_GRACE_S = 10.0
"""How long past Locust's --stop-timeout the master waits for the workers'
final reports; octperf's stop() allows for it before it kills the master."""


@dataclass(frozen=True)
class LocustSettings:
    """What each user fetches, and where the master writes what it measured."""

    object_path: str = "/objects/1k.bin"
    keep_alive: bool = True
    think_time_s: float = 0.0
    tables_dir: Path | None = None
    """Where the master appends ``locust.csv`` and ``locust_hdr.csv``."""
    result_path: Path | None = None
    """Where the master writes its result JSON when the test ends."""

    def to_env(self) -> dict[str, str]:
        env = {
            OBJECT_PATH: self.object_path,
            KEEP_ALIVE: "1" if self.keep_alive else "0",
            THINK_TIME_S: repr(self.think_time_s),
        }
        if self.tables_dir is not None:
            env[TABLES_DIR] = str(self.tables_dir)
        if self.result_path is not None:
            env[RESULT] = str(self.result_path)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LocustSettings:
        """Read the settings; raises ConfigError naming a malformed variable."""
        path = environ.get(OBJECT_PATH, cls.object_path)
        if not path.startswith("/"):
            raise ConfigError(
                f"{OBJECT_PATH}={path!r}: give a URL path such as /objects/1k.bin"
            )
        keep_alive = environ.get(KEEP_ALIVE, "1")
        if keep_alive not in ("0", "1"):
            raise ConfigError(
                f"{KEEP_ALIVE}={keep_alive!r}: use 1 (keep-alive) or 0 (close)"
            )
        return cls(
            object_path=path,
            keep_alive=keep_alive == "1",
            think_time_s=_seconds(environ.get(THINK_TIME_S, "0")),
            tables_dir=_path(environ.get(TABLES_DIR)),
            result_path=_path(environ.get(RESULT)),
        )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigError(f"{THINK_TIME_S}={text!r}: give seconds as a number >= 0")
    return value


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None
