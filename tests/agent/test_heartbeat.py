"""Verifying and decoding heartbeats, on datagrams captured from the real agent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from octperf.collectors.heartbeat import (
    HeartbeatReceiver,
    decode_payload,
    heartbeat_rows,
    sign_message,
    signed_payload,
)
from octperf.errors import CollectorError, ConfigError

CAPTURED = Path(__file__).parent / "data" / "agent-octavia-19.0.0.json"


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    return json.loads(CAPTURED.read_text(encoding="utf-8"))


def _envelopes(captured: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(text) for text in captured["heartbeats"]]


def test_captured_heartbeats_verify_and_carry_the_amphora_and_listener(captured):
    """Each datagram of the real agent verifies with its key and decodes to v3."""
    messages = [
        decode_payload(signed_payload(envelope, captured["heartbeat_key"]) or b"")
        for envelope in _envelopes(captured)
    ]
    assert [message["seq"] for message in messages] == list(range(len(messages)))
    assert {message["id"] for message in messages} == {captured["amphora_id"]}
    assert {message["ver"] for message in messages} == {3}
    for message in messages:
        assert list(message["listeners"]) == [captured["listener_id"]]


def test_a_heartbeat_checked_with_another_key_is_refused(captured):
    """The HMAC ties a heartbeat to the key both ends were given."""
    for envelope in _envelopes(captured):
        assert signed_payload(envelope, "not-the-key") is None


def test_a_tampered_payload_is_refused(captured):
    """Changing one byte of the compressed JSON breaks the signature."""
    envelope = bytearray(_envelopes(captured)[0])
    envelope[3] ^= 0x01
    assert signed_payload(bytes(envelope), captured["heartbeat_key"]) is None


def test_a_raw_digest_is_accepted_as_the_health_manager_accepts_it():
    """Older amphorae append the 32-byte digest instead of its hex form."""
    payload = zlib.compress(json.dumps({"id": "a", "seq": 1}).encode(), 9)
    digest = hmac.new(b"key", payload, hashlib.sha256).digest()
    assert signed_payload(payload + digest, "key") == payload


def test_our_envelope_is_the_agents_envelope(captured):
    """sign_message then signed_payload gives back the message."""
    message = {"id": "x", "seq": 3, "ver": 3, "listeners": {}}
    payload = signed_payload(sign_message(message, "k"), "k")
    assert payload is not None and decode_payload(payload) == message


def test_a_verified_payload_that_is_not_zlib_json_is_a_collector_error():
    """Right signature, wrong content: refused with a reason."""
    with pytest.raises(CollectorError, match="not zlib JSON"):
        decode_payload(b"plain text")


def test_rows_are_one_per_listener_with_octavias_stats(captured):
    """Each listener gives status and tx, rx, conns, totconns, ereq."""
    # This heartbeat saw the capture's curl connection open: conns is
    # HAProxy's scur, totconns the connections since the previous heartbeat.
    envelope = _envelopes(captured)[1]
    message = decode_payload(signed_payload(envelope, captured["heartbeat_key"]) or b"")
    [row] = heartbeat_rows(message, 12.5)
    assert row == {
        "ts": 12.5,
        "amphora_id": captured["amphora_id"],
        "seq": 1,
        "ver": 3,
        "listener_id": captured["listener_id"],
        "status": "OPEN",
        "tx": 0,
        "rx": 0,
        "conns": 1,
        "totconns": 1,
        "ereq": 0,
    }


def test_a_heartbeat_without_listeners_still_gives_a_row():
    """With HAProxy down the amphora still reports, with empty listener fields."""
    [row] = heartbeat_rows({"id": "a", "seq": 4, "ver": 3, "listeners": {}}, 1.0)
    assert row["amphora_id"] == "a" and row["seq"] == 4
    assert row["listener_id"] is None and row["totconns"] is None


def test_the_receiver_counts_what_it_refuses_and_drains_what_it_accepts(captured):
    """Over UDP on loopback: good, wrong-key and garbage datagrams are told apart."""
    key = captured["heartbeat_key"]
    good = _envelopes(captured)[0]
    with HeartbeatReceiver("127.0.0.1", 0, key) as receiver:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for datagram in (
                good,
                sign_message({"id": "intruder"}, "other-key"),
                zlib.compress(b"x") + b"0" * 64,
                sign_message(["not", "an", "object"], key),  # type: ignore[arg-type]
            ):
                sender.sendto(datagram, ("127.0.0.1", receiver.port))
        _wait_for(
            lambda: receiver.received + receiver.rejected + receiver.malformed >= 4
        )
        sample = receiver.sample(time.time())

    assert (receiver.received, receiver.rejected, receiver.malformed) == (1, 2, 1)
    [row] = sample["heartbeat"]
    assert row["amphora_id"] == captured["amphora_id"]
    assert receiver.sample(time.time()) == {"heartbeat": []}


def test_the_receiver_binds_loopback_only():
    """A heartbeat key is a secret; the receiver never listens off the machine."""
    with pytest.raises(ConfigError, match="loopback only"):
        HeartbeatReceiver("0.0.0.0", 0, "key")


def _wait_for(check, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
