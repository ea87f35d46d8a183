"""The genuine amphora agent, read over mutual TLS, beside a real HAProxy.

Needs root and the agent's virtualenv (``scripts/install-agent.sh``); every
test shares one bed (see conftest.py). Values the agent reports about the
host are compared with what the host says over the same window.
"""

from __future__ import annotations

import csv
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from octperf.collectors.amphora import AmphoraAPI, AmphoraCollector
from octperf.collectors.heartbeat import sign_message
from octperf.errors import CollectorError
from octperf.store import RunDir
from octperf.testbed._agent import AMPHORA_NAMESPACE
from octperf.testbed._certs import generate_agent_certs
from tests.agent.conftest import (
    AMPHORA_ID,
    ETH1_ADDRESS,
    PEER_ADDRESS,
    AgentBed,
    in_namespace,
)

DATAGRAMS = 200
DATAGRAM_BYTES = 1000


def test_info_reports_the_haproxy_version_dpkg_knows(bed: AgentBed) -> None:
    """haproxy_version is the raw dpkg version of the installed package."""
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "haproxy"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    info = bed.api.info()
    assert info["haproxy_version"] == installed
    assert info["api_version"] == bed.agent.version() == "1.0"


def test_details_lists_the_listener_of_the_rendered_config(bed: AgentBed) -> None:
    """The frontend of haproxy.cfg under base_path is the one listener, running."""
    details = bed.api.details()
    assert details["listeners"] == [bed.listener_id()]
    assert details["haproxy_count"] == 1
    assert set(details["networks"]) == {"eth1"}


def test_cpu_percent_agrees_with_psutil_over_the_same_window(bed: AgentBed) -> None:
    """With one core busy for 3 s both say the same host CPU % within 5 points."""
    collector = AmphoraCollector(bed.api)
    collector.sample(time.time())
    psutil.cpu_percent(None)
    _burn_one_core(3.0)
    host = psutil.cpu_percent(None)
    agent = collector.sample(time.time())["amphora_agent"][0]["cpu_percent"]

    assert 0 <= agent <= 100
    assert abs(agent - host) <= 5, f"agent {agent} %, psutil {host} %"


def test_eth1_counters_rise_by_the_bytes_sent_through_the_veth(bed: AgentBed) -> None:
    """Datagrams sent each way between the namespaces show in eth1's counters."""
    collector = AmphoraCollector(bed.api)
    before = _eth1(collector.sample(time.time()))
    _send(bed.peer_namespace, ETH1_ADDRESS)  # received on eth1
    _send(AMPHORA_NAMESPACE, PEER_ADDRESS)  # sent from eth1
    after = _eth1(collector.sample(time.time()))

    payload = DATAGRAMS * DATAGRAM_BYTES
    assert after["network_rx"] - before["network_rx"] >= payload
    assert after["network_tx"] - before["network_tx"] >= payload
    elapsed = after["ts"] - before["ts"]
    assert after["rx_bytes_per_s"] >= payload / elapsed
    assert after["tx_bytes_per_s"] >= payload / elapsed


def test_samples_store_as_tables_with_stable_columns(
    bed: AgentBed, tmp_path: Path
) -> None:
    """Two samples of the live agent append to amphora_agent{,_net}.csv."""
    run = RunDir(tmp_path / "run")
    run.tables_dir.mkdir(parents=True)
    collector = AmphoraCollector(bed.api)
    for _ in range(2):
        for table, rows in collector.sample(time.time()).items():
            run.table(table).append(rows)
        time.sleep(1.0)
    run.close_tables()

    with (run.tables_dir / "amphora_agent.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["cpu_percent"] == "" for row in rows] == [True, False]
    assert [row["haproxy_count"] for row in rows] == ["1", "1"]
    assert run.table_rows()["amphora_agent_net"] == 2


def test_mutual_tls_is_enforced(bed: AgentBed, tmp_path: Path) -> None:
    """No client cert, a client cert of another CA and plain HTTP are refused."""
    certs = bed.agent.certs
    assert certs is not None
    other = generate_agent_certs(tmp_path / "other")
    url = f"{bed.agent.url}/1.0/info"
    verify = str(certs.server_ca)
    other_cert = (str(other.client_cert), str(other.client_key))
    attempts = [
        ("no client certificate", url, {"verify": verify}),
        ("a client certificate of another CA", url, {"verify": verify,
                                                     "cert": other_cert}),
        ("plain HTTP", url.replace("https://", "http://"), {}),
    ]  # fmt: skip
    for what, target, options in attempts:
        with pytest.raises(requests.RequestException), requests.Session() as session:
            session.trust_env = False
            session.get(target, timeout=10, **options)  # type: ignore[arg-type]
            pytest.fail(f"the agent answered with {what}")
    # The same agent still answers a client with the right certificate.
    assert bed.api.info()["api_version"] == "1.0"


def test_the_agent_is_verified_against_its_server_ca(
    bed: AgentBed, tmp_path: Path
) -> None:
    """A client trusting another CA refuses the agent's certificate."""
    certs = bed.agent.certs
    assert certs is not None
    other = generate_agent_certs(tmp_path / "other")
    api = AmphoraAPI(bed.agent.url, certs.client_cert, certs.client_key,
                     other.server_ca, 10)  # fmt: skip
    with pytest.raises(CollectorError, match="TLS with the amphora agent"):
        api.info()


def test_heartbeats_carry_this_amphora_and_haproxys_counters(bed: AgentBed) -> None:
    """Connections made through HAProxy add up in totconns as HAProxy counts them."""
    _wait_for_heartbeats(bed, 1)
    requests_made = 5
    urls = [f"http://{_vip(bed)}/"] * requests_made
    in_namespace(AMPHORA_NAMESPACE, ["curl", "-s", "-o", "/dev/null", "--max-time",
                 "5", "-H", "Connection: close", *urls])  # fmt: skip
    stot = _frontend_stat(bed, "stot")
    _wait_for_heartbeats(bed, 2)  # built after the connections were counted
    rows = bed.receiver.drain()

    assert {row["amphora_id"] for row in rows} == {AMPHORA_ID}
    assert {row["listener_id"] for row in rows} == {bed.listener_id()}
    assert {row["status"] for row in rows} == {"OPEN"}
    assert stot == requests_made
    # Deltas since the agent started, the first against zero.
    assert sum(row["totconns"] for row in rows) == stot
    assert bed.receiver.rejected == 0


def test_a_heartbeat_signed_with_another_key_is_rejected_and_counted(
    bed: AgentBed,
) -> None:
    """A forged heartbeat for this amphora adds no row and one rejection."""
    bed.receiver.drain()
    rejected = bed.receiver.rejected
    forged = sign_message({"id": AMPHORA_ID, "seq": 999, "ver": 3}, "wrong-key")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(forged, ("127.0.0.1", bed.receiver.port))
    deadline = time.monotonic() + 5
    while bed.receiver.rejected == rejected and time.monotonic() < deadline:
        time.sleep(0.05)

    assert bed.receiver.rejected == rejected + 1
    assert 999 not in {row["seq"] for row in bed.receiver.drain()}


# helpers -------------------------------------------------------------------


def _burn_one_core(seconds: float) -> None:
    code = (
        "import time\n"
        f"end = time.monotonic() + {seconds}\n"
        "while time.monotonic() < end:\n"
        "    pass\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=seconds + 10)


def _send(namespace: str, address: str) -> None:
    """A bounded UDP sender run inside ``namespace``; discard port 9."""
    code = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"for _ in range({DATAGRAMS}):\n"
        f"    s.sendto(b'x' * {DATAGRAM_BYTES}, ('{address}', 9))\n"
    )
    in_namespace(namespace, [sys.executable, "-c", code], timeout_s=30)


def _eth1(tables: dict) -> dict:
    [row] = [row for row in tables["amphora_agent_net"] if row["interface"] == "eth1"]
    return row


def _vip(bed: AgentBed) -> str:
    return f"{bed.profile.local.vip}:{bed.profile.listener.protocol_port}"


def _frontend_stat(bed: AgentBed, field: str) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(str(bed.files.stats_socket))
        conn.sendall(b"show stat\n")
        answer = b"".join(iter(lambda: conn.recv(65536), b""))
    lines = answer.decode().lstrip("# ").splitlines()
    for row in csv.DictReader(line for line in lines if line):
        if row["pxname"] == bed.listener_id() and row["svname"] == "FRONTEND":
            return int(row[field])
    raise AssertionError(f"no frontend {bed.listener_id()} in show stat")


def _wait_for_heartbeats(bed: AgentBed, count: int, timeout_s: float = 15) -> None:
    target = bed.receiver.received + count
    deadline = time.monotonic() + timeout_s
    while bed.receiver.received < target:
        assert time.monotonic() < deadline, "no heartbeat arrived"
        time.sleep(0.1)
