"""RemoteCollector over a real sshd on this very machine, so its rows can be
checked against psutil's and HAProxy's own answers for the same host."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import psutil
import pytest

from octperf.collectors import Sampler, frontend_counter
from octperf.collectors._columns import CPU_FIELDS, NET_RATES
from octperf.collectors.ssh import RemoteCollector
from octperf.errors import CollectorError
from octperf.store import create_run
from tests.ssh.conftest import LocalSSHD

HOST_TABLES = {"host_cpu", "host_memory", "host_net", "host_load"}
LOOPBACK_BYTES = 16 * 1024 * 1024
# Both readings see the same host; they differ by the few milliseconds between
# psutil's reading and the remote one at each end of the window.
CPU_TOLERANCE = 5.0


def test_first_sample_has_no_cpu_rows_and_every_row_names_the_host(sshd: LocalSSHD):
    """Without a stats socket: the four host tables, ts then host in every row."""
    collector = RemoteCollector(sshd.connect())

    tables = collector.sample(1.5)

    assert set(tables) == HOST_TABLES
    assert tables["host_cpu"] == []
    rows = [row for table in tables.values() for row in table]
    assert rows
    for row in rows:
        assert list(row)[:2] == ["ts", "host"]
        assert (row["ts"], row["host"]) == (1.5, "127.0.0.1")


def test_cpu_total_agrees_with_psutil_over_the_same_window(sshd: LocalSSHD):
    """One CPU kept busy for 2 s: remote busy and idle match psutil's within 5."""
    collector = RemoteCollector(sshd.connect())
    collector.sample(1.0)
    psutil.cpu_times_percent(None)  # starts psutil's window here

    _spin(2.0)
    rows = collector.sample(2.0)["host_cpu"]
    local = psutil.cpu_times_percent(None)  # both windows end after a reading

    assert [row["cpu"] for row in rows] == ["total"] + [
        str(n) for n in range(psutil.cpu_count())
    ]
    for row in rows:
        for field in (*CPU_FIELDS, "busy"):
            assert 0 <= row[field] <= 100
    total = rows[0]
    local_busy = 100 - local.idle - local.iowait
    assert total["busy"] == pytest.approx(local_busy, abs=CPU_TOLERANCE)
    assert total["idle"] == pytest.approx(local.idle, abs=CPU_TOLERANCE)
    assert total["user"] == pytest.approx(local.user, abs=CPU_TOLERANCE)


def test_loopback_counters_rise_by_at_least_the_bytes_sent(sshd: LocalSSHD):
    """16 MiB over loopback TCP between two samples shows in ``lo``'s counters."""
    collector = RemoteCollector(sshd.connect(), interfaces=["lo"])
    started = time.monotonic()
    (first,) = collector.sample(1.0)["host_net"]

    _send_over_loopback(LOOPBACK_BYTES)
    (second,) = collector.sample(2.0)["host_net"]
    ended = time.monotonic()

    assert first["interface"] == second["interface"] == "lo"
    assert all(first[rate] is None for rate in NET_RATES)
    for counter in ("bytes_sent", "bytes_recv"):
        assert second[counter] - first[counter] >= LOOPBACK_BYTES
    # The host's window lies inside [started, ended]: its rate can only be higher.
    sent = second["bytes_sent"] - first["bytes_sent"]
    assert second["tx_bytes_per_s"] >= sent / (ended - started)
    assert second["rx_bytes_per_s"] == second["tx_bytes_per_s"]  # lo sends to itself


def test_memory_and_load_are_this_hosts(sshd: LocalSSHD):
    """Memory totals equal psutil's; used is total - available; load is the host's."""
    tables = RemoteCollector(sshd.connect()).sample(1.0)

    (memory,) = tables["host_memory"]
    assert memory["total_bytes"] == psutil.virtual_memory().total
    assert memory["swap_total_bytes"] == psutil.swap_memory().total
    assert 0 < memory["available_bytes"] <= memory["total_bytes"]
    assert memory["used_bytes"] == memory["total_bytes"] - memory["available_bytes"]
    (load,) = tables["host_load"]
    assert load["load_15"] == pytest.approx(os.getloadavg()[2], abs=0.5)
    assert load["runnable_tasks"] >= 1  # the probe itself runs
    assert load["tasks"] >= load["runnable_tasks"]


def test_haproxy_stat_over_ssh_matches_a_local_show_stat(sshd: LocalSSHD, haproxy):
    """Same proxies and servers in the same order, and the same req_tot."""
    haproxy.get(7)
    collector = RemoteCollector(sshd.connect(), stats_socket=haproxy.socket_path)

    tables = collector.sample(1.0)
    local = haproxy.stats().show_stat()

    assert set(tables) == HOST_TABLES | {"haproxy_stat", "haproxy_info"}
    remote = tables["haproxy_stat"]
    assert [(r["pxname"], r["svname"]) for r in remote] == [
        (r["pxname"], r["svname"]) for r in local
    ]
    assert frontend_counter(remote, haproxy.listener) == 7
    assert frontend_counter(local, haproxy.listener) == 7
    (info,) = tables["haproxy_info"]
    assert info["Version"] == haproxy.stats().show_info()["Version"]
    assert {row["host"] for row in remote} == {info["host"]} == {"127.0.0.1"}


def test_each_sample_is_one_remote_command_on_one_connection(
    sshd: LocalSSHD, haproxy, channels, transports
):
    """Four samples with HAProxy's stats: four session channels, one transport."""
    collector = RemoteCollector(sshd.connect(), stats_socket=haproxy.socket_path)

    for n in range(4):
        collector.sample(float(n))

    assert channels == ["session"] * 4
    assert len(transports) == 1


def test_unreadable_stats_socket_is_one_line_naming_path_and_host(
    sshd: LocalSSHD, tmp_path: Path
):
    """A stats socket that is not there raises CollectorError, with the fix."""
    missing = tmp_path / "no-haproxy.sock"
    collector = RemoteCollector(sshd.connect(), stats_socket=missing)

    with pytest.raises(CollectorError) as raised:
        collector.sample(1.0)

    message = str(raised.value)
    assert f"HAProxy stats socket {missing} on 127.0.0.1" in message
    assert "No such file or directory" in message
    assert "\n" not in message


def test_sampler_stores_remote_rows_with_their_host(sshd: LocalSSHD, tmp_path: Path):
    """Through the Sampler, the host tables land in the run with a ``host`` column."""
    run = create_run(tmp_path / "runs", "ssh")
    collector = RemoteCollector(sshd.connect())

    with Sampler(run, [collector], interval_s=3600.0):
        pass  # start() and stop() take one sample each
    run.close_tables()

    cpu = run.read_table("host_cpu")
    assert set(cpu["host"]) == {"127.0.0.1"}
    assert list(cpu["cpu"])[:1] == ["total"]
    assert run.table_rows()["host_net"] >= 2


def _spin(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def _send_over_loopback(size: int) -> None:
    """Send ``size`` bytes to ourselves over one loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        received = threading.Thread(target=_drain, args=(server,))
        received.start()
        with socket.create_connection(server.getsockname()) as sender:
            sender.sendall(b"\0" * size)
        received.join(timeout=30)


def _drain(server: socket.socket) -> None:
    conn, _ = server.accept()
    with conn:
        while conn.recv(1 << 20):
            pass
