"""HAProxy's stats socket: ``show stat`` and ``show info``, parsed by header name.

The socket is spoken to directly, one UNIX connection per command, read until
HAProxy closes it. Forking ``socat`` costs about 9 ms a sample and pandas
about 7 ms, against well under 1 ms for the socket and the ``csv`` module.
A sample asks ``show info;show stat`` on one connection, so both answers
come from the same HAProxy process even while a reload hands the socket
over to a new one.

Fields are taken by the names HAProxy prints, never by position: they differ
between HAProxy versions (management guide, section 9.1 "CSV format"). Values
stay strings as HAProxy wrote them; an empty field is ``None`` (unknown),
never zero.
"""

from __future__ import annotations

import csv
import logging
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octperf.collectors._sampler import Event
from octperf.errors import CollectorError

log = logging.getLogger(__name__)

Row = dict[str, str | None]

_MODULE_SEPARATOR = "-"  # HAProxy 2.x puts a field named "-" before module counters

RELOAD_EVENT = "haproxy_reload"
# Frontend counters that only grow while one HAProxy process lives.
CUMULATIVE = ("req_tot", "stot")
# Counters named in a reload event's message; more are summed up as "N more".
NAMED_COUNTERS = 3


class StatsSocket:
    """HAProxy's UNIX stats socket (``stats socket PATH ... level user``).

    Each command opens its own connection. ``timeout_s`` bounds the whole
    exchange: connect, send and reading the full answer.
    """

    def __init__(self, path: str | Path, timeout_s: float = 2.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"StatsSocket({str(self.path)!r}, timeout_s={self.timeout_s})"

    def show_stat(self) -> list[Row]:
        """One row per proxy and server, fields by HAProxy's header names."""
        return parse_show_stat(self.command("show stat"))

    def show_info(self) -> Row:
        """The process-wide ``show info`` keys (``Version``, ``CurrConns``, ...)."""
        return parse_show_info(self.command("show info"))

    def show_info_and_stat(self) -> tuple[Row, list[Row]]:
        """``show info`` and ``show stat`` from one connection, so one process.

        HAProxy runs commands separated by ``;`` in turn and ends each
        answer with a blank line (management guide, section 9.3).
        """
        return parse_info_and_stat(self.command("show info;show stat"))

    def command(self, line: str) -> str:
        """Send one command and return HAProxy's whole answer as text.

        Raises CollectorError naming the socket when it is missing, refuses,
        denies access or does not answer within ``timeout_s``.
        """
        deadline = time.monotonic() + self.timeout_s
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(self.timeout_s)
                conn.connect(str(self.path))
                conn.sendall(line.encode("ascii") + b"\n")
                answer = _read_to_eof(conn, deadline)
        except OSError as error:
            raise self._error(line, error) from error
        log.debug("%s answered %r with %d bytes", self.path, line, len(answer))
        return answer.decode("utf-8", errors="replace")

    def _error(self, line: str, error: OSError) -> CollectorError:
        where = f"HAProxy stats socket {self.path}"
        if isinstance(error, FileNotFoundError):
            advice = (
                "does not exist: check that HAProxy runs and that its "
                "`stats socket` line names this path"
            )
        elif isinstance(error, ConnectionRefusedError):
            advice = (
                "refused the connection: no HAProxy listens on it (stopped, "
                "or restarted with another socket path?)"
            )
        elif isinstance(error, PermissionError):
            advice = (
                "denied access: run as the socket's owner or widen the "
                "`mode` of the `stats socket` line"
            )
        elif isinstance(error, TimeoutError):
            advice = (
                f"did not answer {line!r} within {self.timeout_s} s: check "
                "whether HAProxy is stuck or starved of CPU"
            )
        else:
            advice = f"failed on {line!r}: {error}"
        return CollectorError(f"{where} {advice}")


def _read_to_eof(conn: socket.socket, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed while reading")
        conn.settimeout(remaining)
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def parse_show_stat(text: str) -> list[Row]:
    """Parse ``show stat`` CSV into one dict per line, keyed by header name.

    The ``-`` separator field and the empty name after each line's trailing
    comma are dropped. Parsing stops at the first blank line. Raises
    CollectorError when the text does not start with the ``# `` header (an
    error message from HAProxy, for instance).
    """
    if not text.startswith("# "):
        raise CollectorError(
            f"`show stat` answer does not start with a '# ' header: {text[:80]!r}"
        )
    # keepends: a quoted field may span lines, and csv needs the line ends.
    reader = csv.reader(text[2:].splitlines(keepends=True))
    header = next(reader)
    kept = [(i, name) for i, name in enumerate(header) if _is_field(name)]

    rows = []
    for values in reader:
        if not values:
            break
        rows.append({name: _value(values, i) for i, name in kept})
    return rows


def parse_show_info(text: str) -> Row:
    """Parse ``show info`` (``Key: value`` lines) into a dict.

    Keys are kept as HAProxy prints them, spaces included (``Unstoppable
    Jobs``). Parsing stops at the first blank line. Raises CollectorError
    when no ``Key: value`` line is found.
    """
    info: Row = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, colon, value = line.partition(":")
        if colon and key.strip():
            info[key.strip()] = value.strip() or None
    if not info:
        raise CollectorError(
            f"`show info` answer has no 'Key: value' lines: {text[:80]!r}"
        )
    return info


def parse_info_and_stat(text: str) -> tuple[Row, list[Row]]:
    """Parse the answer to ``show info;show stat``: the info, then the rows.

    Raises CollectorError as parse_show_info and parse_show_stat do.
    """
    info, _, stat = text.partition("\n\n")
    return parse_show_info(info), parse_show_stat(stat)


def frontend_counter(
    rows: Iterable[Mapping[str, Any]], frontend_name: str, field: str = "req_tot"
) -> int | None:
    """A counter of one frontend (its ``FRONTEND`` row) from ``show stat`` rows.

    Returns None when the field is absent from this HAProxy or empty.
    Raises CollectorError when no frontend of that name is in ``rows``.
    """
    rows = list(rows)
    for row in rows:
        if row.get("pxname") == frontend_name and row.get("svname") == "FRONTEND":
            value = row.get(field)
            return None if value in (None, "") else int(value)
    frontends = sorted(
        str(row.get("pxname")) for row in rows if row.get("svname") == "FRONTEND"
    )
    raise CollectorError(
        f"no frontend {frontend_name!r} in `show stat`; frontends there: {frontends}"
    )


class HAProxyCollector:
    """Samples one HAProxy: rows for ``haproxy_stat`` and ``haproxy_info``.

    It also watches for a new HAProxy process (a reload or a restart) or
    counters cleared, by comparing each sample with the previous good one:
    ``show info``'s ``Pid`` changed or ``Uptime_sec`` went back, or a
    frontend's ``req_tot`` or ``stot`` decreased. Each such change is one
    ``haproxy_reload`` Event for ``take_events()``, its message giving the
    Pid and Uptime_sec before and after and the counters that went back.
    """

    def __init__(self, socket: StatsSocket | str | Path, name: str = "haproxy") -> None:
        if not isinstance(socket, StatsSocket):
            socket = StatsSocket(socket)
        self.socket = socket
        self.name = name
        self._previous: ProcessState | None = None
        self._events: list[Event] = []

    def sample(self, ts: float) -> dict[str, list[dict[str, Any]]]:
        """Both tables' rows, ``ts`` first; raises CollectorError as the socket does."""
        info, rows = self.socket.show_info_and_stat()
        self._watch(ProcessState.read(info, rows))
        stat = [{"ts": ts, **row} for row in rows]
        return {"haproxy_stat": stat, "haproxy_info": [{"ts": ts, **info}]}

    def take_events(self) -> list[Event]:
        """The reloads seen since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def _watch(self, state: ProcessState) -> None:
        previous, self._previous = self._previous, state
        if previous is None:
            return
        event = reload_event(previous, state)
        if event is not None:
            self._events.append(event)


@dataclass(frozen=True)
class ProcessState:
    """What tells one HAProxy process from the next, as one sample saw it.

    ``counters`` maps (frontend, field) to the value of each CUMULATIVE
    field a frontend reports; unknown values are left out.
    """

    pid: str | None
    uptime_s: int | None
    counters: dict[tuple[str, str], int]

    @classmethod
    def read(cls, info: Mapping[str, Any], rows: Iterable[Row]) -> ProcessState:
        counters: dict[tuple[str, str], int] = {}
        for row in rows:
            if row.get("svname") == "FRONTEND":
                for field in CUMULATIVE:
                    value = _integer(row.get(field))
                    if value is not None:
                        counters[(str(row.get("pxname")), field)] = value
        return cls(info.get("Pid"), _integer(info.get("Uptime_sec")), counters)


def reload_event(before: ProcessState, after: ProcessState) -> Event | None:
    """The ``haproxy_reload`` Event between two samples, or None.

    There is one when ``after`` is another process than ``before`` (Pid
    changed or Uptime_sec went back) or one of its counters went back.
    """
    new_pid = None not in (before.pid, after.pid) and before.pid != after.pid
    uptime_back = _decreased(before.uptime_s, after.uptime_s)
    fallen = [
        f"{field} of frontend {frontend} {value} -> {after.counters[(frontend, field)]}"
        for (frontend, field), value in before.counters.items()
        if _decreased(value, after.counters.get((frontend, field)))
    ]
    if not (new_pid or uptime_back or fallen):
        return None
    message = _reload_message(before, after, new_pid or uptime_back, fallen)
    return Event(RELOAD_EVENT, message)


def _reload_message(
    before: ProcessState, after: ProcessState, new_process: bool, fallen: list[str]
) -> str:
    uptime = f"Uptime_sec {before.uptime_s} -> {after.uptime_s}"
    if len(fallen) > NAMED_COUNTERS:
        fallen = [*fallen[:NAMED_COUNTERS], f"{len(fallen) - NAMED_COUNTERS} more"]
    went_back = ", ".join(fallen)
    if new_process:
        message = (
            f"HAProxy restarted or reloaded: Pid {before.pid} -> {after.pid}, "
            f"{uptime}; its counters start again from zero"
        )
        return f"{message} ({went_back})" if went_back else message
    return (
        f"HAProxy's counters went back within one process (Pid {after.pid}, "
        f"{uptime}), as `clear counters all` does: {went_back}"
    )


def _decreased(before: int | None, after: int | None) -> bool:
    return before is not None and after is not None and after < before


def _integer(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _is_field(name: str) -> bool:
    return bool(name) and name != _MODULE_SEPARATOR


def _value(values: list[str], index: int) -> str | None:
    # A line shorter than the header leaves its last fields unknown.
    if index >= len(values) or values[index] == "":
        return None
    return values[index]
