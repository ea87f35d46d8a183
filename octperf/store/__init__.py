"""Run directories: a manifest, one table per source, a summary.

    data/runs/<UTC time>-<profile>-<short id>/
        manifest.json   versioned; profile as run, bed, versions, host, status
        summary.json    totals checked across sources (written at the end)
        tables/*.csv    one tidy table per source, appended while the run goes
        bed/            configurations the bed rendered
        logs/           stderr of every process the bed and the load started

The format is documented in docs/run-directory.md.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octperf._atomic import write_json
from octperf.errors import StoreError
from octperf.store._manifest import FORMAT_VERSION, READABLE_VERSIONS, STATUSES
from octperf.store._tables import TableWriter

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMAT_VERSION", "RunDir", "TableWriter", "create_run", "open_run"]


class RunDir:
    """One run on disk; every write goes through here."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        self._tables: dict[str, TableWriter] = {}
        # The sampler thread adds events while the main thread updates the
        # manifest; each read-merge-write must not lose the other's.
        self._manifest_lock = threading.RLock()

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def tables_dir(self) -> Path:
        return self.path / "tables"

    def subdir(self, name: str) -> Path:
        """A sub-directory of the run (``bed``, ``logs``, ``locust``), created."""
        directory = self.path / name
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def table(self, source: str) -> TableWriter:
        """The writer of table ``source`` (``tables/<source>.csv``)."""
        if source not in self._tables:
            self._tables[source] = TableWriter(self.tables_dir / f"{source}.csv")
        return self._tables[source]

    def close_tables(self) -> None:
        for writer in self._tables.values():
            writer.close()

    def read_table(self, source: str) -> pd.DataFrame:
        """Load one table; an absent table is an empty frame."""
        import pandas as pd  # not at import time: Locust processes import this

        path = self.tables_dir / f"{source}.csv"
        if not path.exists() or path.stat().st_size == 0:
            return pd.DataFrame()
        return pd.read_csv(path)

    def table_rows(self) -> dict[str, int]:
        """Data rows per table on disk (header excluded)."""
        counts = {}
        for path in sorted(self.tables_dir.glob("*.csv")):
            with path.open("rb") as handle:
                counts[path.stem] = max(sum(1 for _ in handle) - 1, 0)
        return counts

    # manifest -----------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        data = _read_json(self.path / "manifest.json")
        version = data.get("format_version")
        if version not in READABLE_VERSIONS:
            raise StoreError(
                f"{self.path}/manifest.json has format_version {version!r}; this "
                f"octperf reads {sorted(READABLE_VERSIONS)}: upgrade octperf"
            )
        return data

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the manifest and write it atomically.

        Thread-safe for callers sharing this RunDir.
        """
        with self._manifest_lock:
            data = self.manifest() if (self.path / "manifest.json").exists() else {}
            data.update(fields)
            if data.get("status") not in STATUSES:
                raise ValueError(f"unknown run status {data.get('status')!r}")
            write_json(self.path / "manifest.json", data)
            return data

    def add_event(self, kind: str, message: str) -> None:
        """Record something that happened during the run (in the manifest).

        Thread-safe for callers sharing this RunDir.
        """
        with self._manifest_lock:
            events = self.manifest().get("events", [])
            events.append({"ts": time.time(), "kind": kind, "message": message})
            self.update_manifest(events=events)

    def finish(self, status: str) -> None:
        self.close_tables()
        self.update_manifest(status=status, ended_at=_now_iso())

    # summary ------------------------------------------------------------

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.path / "summary.json", summary)

    def summary(self) -> dict[str, Any]:
        return _read_json(self.path / "summary.json")


def create_run(data_dir: Path, profile_name: str, **manifest: Any) -> RunDir:
    """Make a new run directory under ``data_dir/runs`` with status running."""
    started = datetime.now(timezone.utc)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{profile_name}-{secrets.token_hex(3)}"
    run = RunDir(Path(data_dir) / "runs" / run_id)
    run.path.mkdir(parents=True)
    run.tables_dir.mkdir()
    run.update_manifest(
        format_version=FORMAT_VERSION,
        run_id=run_id,
        status="running",
        started_at=started.isoformat(timespec="seconds"),
        ended_at=None,
        runner_pid=os.getpid(),
        events=[],
        **manifest,
    )
    return run


def open_run(path: str | Path) -> RunDir:
    """Open an existing run directory, checking its manifest is readable."""
    run = RunDir(Path(path))
    if not (run.path / "manifest.json").is_file():
        raise StoreError(
            f"{run.path} is not a run directory (no manifest.json); runs live "
            "under data/runs/"
        )
    run.manifest()
    return run


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{path} is missing") from None
    except (OSError, ValueError) as error:
        raise StoreError(f"{path} is unreadable: {error}") from None
