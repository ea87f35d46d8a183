"""The amphora's UDP heartbeat: Octavia's own view of its listeners.

Every ``heartbeat_interval`` the agent's health sender sends the health
manager one datagram: zlib-compressed JSON followed by its HMAC-SHA256 under
``[health_manager] heartbeat_key``, as 64 hex characters (older agents sent
the 32 raw bytes; the health manager accepts both, and so does this). The
JSON (message version 3) carries per listener its status and counters
read from HAProxy's stats socket::

    {"id": "<amphora id>", "seq": 67, "ver": 3,
     "listeners": {"<listener id>": {"status": "OPEN", "stats": {
         "tx": 0, "rx": 0, "conns": 0, "totconns": 0, "ereq": 0}}},
     "pools": {...}}

``tx``, ``rx`` (bytes), ``totconns`` and ``ereq`` are deltas since the
previous heartbeat; ``conns`` is HAProxy's current ``scur``.

``HeartbeatReceiver`` stands in for the health manager on a loopback port
and keeps the rows of table ``heartbeat`` until ``sample()`` drains them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Mapping
from typing import Any

from octperf.errors import CollectorError, ConfigError

log = logging.getLogger(__name__)

HEX_DIGEST_LEN = 64
RAW_DIGEST_LEN = 32

# Octavia's listener counters, in the order they appear in its message.
STATS = ("tx", "rx", "conns", "totconns", "ereq")

# Rows kept when nobody drains; older rows are dropped first (and counted).
MAX_PENDING_ROWS = 100_000

# How often the thread looks up from recv() to see whether it must stop.
POLL_S = 0.25


def signed_payload(envelope: bytes, key: str) -> bytes | None:
    """The payload of ``envelope`` if its HMAC under ``key`` is right, else None.

    The hex form of the digest is tried first, then the raw one, as the
    health manager does.
    """
    if len(envelope) > HEX_DIGEST_LEN:
        payload = envelope[:-HEX_DIGEST_LEN]
        expected = _hmac(payload, key).hexdigest().encode("ascii")
        if hmac.compare_digest(envelope[-HEX_DIGEST_LEN:], expected):
            return payload
    if len(envelope) > RAW_DIGEST_LEN:
        payload = envelope[:-RAW_DIGEST_LEN]
        expected = _hmac(payload, key).digest()
        if hmac.compare_digest(envelope[-RAW_DIGEST_LEN:], expected):
            return payload
    return None


def decode_payload(payload: bytes) -> dict[str, Any]:
    """The message a verified payload holds; CollectorError if it is not
    zlib-compressed JSON of an object."""
    try:
        message = json.loads(zlib.decompress(payload).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError) as error:
        raise CollectorError(f"heartbeat payload is not zlib JSON: {error}") from error
    if not isinstance(message, dict):
        raise CollectorError(f"heartbeat payload is {type(message).__name__}")
    return message


def sign_message(message: Mapping[str, Any], key: str) -> bytes:
    """An envelope as an amphora sends it: compressed JSON, then the hex HMAC."""
    payload = zlib.compress(json.dumps(message).encode("utf-8"), 9)
    return payload + _hmac(payload, key).hexdigest().encode("ascii")


def heartbeat_rows(message: Mapping[str, Any], ts: float) -> list[dict[str, Any]]:
    """One row per listener of ``message`` received at ``ts`` (Unix seconds).

    A heartbeat without listeners (HAProxy not running) still gives one
    row, with the listener columns empty, so every heartbeat is counted.
    """
    head = {
        "ts": ts,
        "amphora_id": message.get("id"),
        "seq": message.get("seq"),
        "ver": message.get("ver"),
    }
    listeners = message.get("listeners") or {}
    if not isinstance(listeners, Mapping) or not listeners:
        return [head | {"listener_id": None, "status": None} | dict.fromkeys(STATS)]
    rows = []
    for listener_id, listener in sorted(listeners.items()):
        stats = listener.get("stats") or {}
        rows.append(
            head
            | {"listener_id": listener_id, "status": listener.get("status")}
            | {name: stats.get(name) for name in STATS}
        )
    return rows


class HeartbeatReceiver:
    """Receives heartbeats on UDP ``host:port`` in a thread, verifying each.

    ``host`` must be a loopback address; ``port`` 0 picks a free one, read
    ``port`` after ``start()``. Counts: ``received`` (verified and decoded),
    ``rejected`` (wrong HMAC, as the health manager drops them),
    ``malformed`` (right HMAC, undecodable) and ``dropped`` (rows not
    drained in time, beyond ``MAX_PENDING_ROWS``).
    """

    name = "heartbeat"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, key: str = "") -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ConfigError(f"the heartbeat receiver binds loopback only, not {host}")
        if not key:
            raise ConfigError("the heartbeat receiver needs the agent's heartbeat_key")
        self.host = host
        self.port = port
        self.key = key
        self.received = 0
        self.rejected = 0
        self.malformed = 0
        self.dropped = 0
        self._rows: deque[dict[str, Any]] = deque()
        self._rows_lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def __enter__(self) -> HeartbeatReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> HeartbeatReceiver:
        """Bind the socket and start receiving; CollectorError if the port is taken."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            raise CollectorError(
                f"cannot receive heartbeats on {self.host}:{self.port}: "
                f"{error.strerror}; choose another port (0 picks a free one)"
            ) from error
        sock.settimeout(POLL_S)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._receive, name="octperf-heartbeat", daemon=True
        )
        self._thread.start()
        log.info("receiving amphora heartbeats on %s:%s", self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop the thread and close the socket; rows not drained stay."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(timeout=5)
        self._thread = None
        if self._socket is not None:
            self._socket.close()
        log.info(
            "heartbeats: %s received, %s rejected, %s malformed",
            self.received,
            self.rejected,
            self.malformed,
        )

    def drain(self) -> list[dict[str, Any]]:
        """The rows received since the last call, oldest first."""
        with self._rows_lock:
            rows = list(self._rows)
            self._rows.clear()
        return rows

    def sample(self, ts: float) -> dict[str, list[dict[str, Any]]]:
        """What arrived since the last sample; rows carry their arrival time,
        not ``ts``."""
        return {"heartbeat": self.drain()}

    def accept(self, envelope: bytes, ts: float) -> bool:
        """Verify, decode and queue one datagram; False if it was refused."""
        payload = signed_payload(envelope, self.key)
        if payload is None:
            self.rejected += 1
            log.debug("heartbeat with a wrong HMAC dropped (%d bytes)", len(envelope))
            return False
        try:
            message = decode_payload(payload)
        except CollectorError as error:
            self.malformed += 1
            log.debug("heartbeat dropped: %s", error)
            return False
        self.received += 1
        self._queue(heartbeat_rows(message, ts))
        return True

    def _receive(self) -> None:
        assert self._socket is not None
        while not self._stopping.is_set():
            try:
                envelope = self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError as error:
                log.warning("heartbeat socket failed: %s; receiving stopped", error)
                return
            self.accept(envelope, time.time())

    def _queue(self, rows: list[dict[str, Any]]) -> None:
        with self._rows_lock:
            overflow = max(len(self._rows) + len(rows) - MAX_PENDING_ROWS, 0)
            for _ in range(min(overflow, len(self._rows))):
                self._rows.popleft()
            self.dropped += overflow
            self._rows.extend(rows[-MAX_PENDING_ROWS:])


def _hmac(payload: bytes, key: str) -> hmac.HMAC:
    return hmac.new(key.encode("utf-8"), payload, hashlib.sha256)
