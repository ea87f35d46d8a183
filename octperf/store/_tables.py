"""Append-only CSV tables, one per source, flushed as rows arrive.

CSV because a crashed run must stay readable: every flushed line is a whole
row, and ``pandas.read_csv`` loads a table in one call. An empty cell means
unknown, never zero.
"""

from __future__ import annotations

import csv
import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)


class TableWriter:
    """Appends rows (mappings) to one CSV table; thread-safe.

    The columns are fixed by the first row written (or ``columns``). Keys a
    later row adds are dropped with one warning per key, so a row never
    shifts into the wrong columns.
    """

    def __init__(self, path: Path, columns: Iterable[str] | None = None) -> None:
        self.path = path
        self.rows = 0
        self._columns: list[str] | None = list(columns) if columns else None
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._file: IO[str] | None = None
        self._writer: Any = None

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Write rows and flush them to the OS before returning."""
        with self._lock:
            for row in rows:
                self._write(row)
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
                self._writer = None  # a later append reopens the file

    def _write(self, row: Mapping[str, Any]) -> None:
        if self._writer is None:
            self._open(row)
        extra = set(row) - set(self._columns or ()) - self._warned
        if extra:
            self._warned |= extra
            log.warning("%s: dropping unexpected columns %s", self.path, sorted(extra))
        self._writer.writerow({k: _cell(row.get(k)) for k in self._columns or ()})
        self.rows += 1

    def _open(self, first: Mapping[str, Any]) -> None:
        if self._columns is None:
            self._columns = list(first)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if not fresh:
            # Appending to a table another writer began: keep its columns.
            with self.path.open(newline="", encoding="utf-8") as existing:
                self._columns = next(csv.reader(existing), self._columns)
        self._file = self.path.open("a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, self._columns, extrasaction="ignore")
        if fresh:
            self._writer.writeheader()


def _cell(value: Any) -> Any:
    return "" if value is None else value
