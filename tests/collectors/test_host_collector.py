"""Host metrics: CPU, memory and interfaces from psutil."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import SimpleNamespace

import psutil
import pytest

from octperf.collectors import HostCollector
from octperf.collectors import host as host_module
from octperf.collectors._columns import CPU_FIELDS, NET_COUNTERS, NET_RATES

LOOPBACK_BYTES = 64 * 1024 * 1024


def test_cpu_rows_are_total_then_each_cpu_within_0_and_100():
    """One ``total`` row and one per CPU; every percentage in [0, 100]."""
    collector = HostCollector()
    _spin(0.06)

    rows = collector.sample(1.0)["host_cpu"]

    assert [row["cpu"] for row in rows] == ["total"] + [
        str(n) for n in range(psutil.cpu_count())
    ]
    for row in rows:
        for field in (*CPU_FIELDS, "busy"):
            assert row[field] is None or 0 <= row[field] <= 100


def test_cpu_fields_add_up_and_busy_is_what_idle_and_iowait_leave():
    """The fields split 100 %; busy = 100 - idle - iowait."""
    collector = HostCollector()
    _spin(0.06)

    (total, *_) = collector.sample(1.0)["host_cpu"]

    known = [total[field] for field in CPU_FIELDS if total[field] is not None]
    assert sum(known) == pytest.approx(100, abs=0.5)
    left = 100 - total["idle"] - total["iowait"]
    assert total["busy"] == pytest.approx(left, abs=0.02)


def test_cpu_is_unknown_when_no_cpu_time_has_passed(monkeypatch):
    """With no CPU time elapsed there is nothing to divide: None, not 0."""
    frozen = (psutil.cpu_times(), psutil.cpu_times(percpu=True))
    monkeypatch.setattr(host_module, "_cpu_reading", lambda: frozen)
    collector = HostCollector()
    _spin(0.06)

    (total, *_) = collector.sample(1.0)["host_cpu"]

    assert all(total[field] is None for field in (*CPU_FIELDS, "busy"))


def test_cpu_sampled_too_soon_is_unknown_and_the_next_sample_covers_it(monkeypatch):
    """Under the minimum interval CPU rows are None; the next sample has values."""
    monkeypatch.setattr(host_module, "MIN_CPU_INTERVAL_S", 3600.0)
    collector = HostCollector()
    _spin(0.06)

    too_soon = collector.sample(1.0)["host_cpu"]
    monkeypatch.setattr(host_module, "MIN_CPU_INTERVAL_S", 0.05)
    (total, *_) = collector.sample(2.0)["host_cpu"]

    assert len(too_soon) == psutil.cpu_count() + 1
    fields = (*CPU_FIELDS, "busy")
    assert all(row[field] is None for row in too_soon for field in fields)
    assert total["idle"] is not None and total["busy"] is not None


def test_memory_is_one_row_matching_the_host():
    """One row with the host's total memory and sane used/available values."""
    rows = HostCollector().sample(1.0)["host_memory"]

    (row,) = rows
    assert row["total_bytes"] == psutil.virtual_memory().total
    assert 0 < row["available_bytes"] <= row["total_bytes"]
    assert 0 < row["used_bytes"] <= row["total_bytes"]
    assert row["swap_used_bytes"] <= row["swap_total_bytes"]


def test_first_net_sample_has_counters_but_empty_rates():
    """Rates need two samples; their columns are there, empty, on the first."""
    (row,) = HostCollector(interfaces=["lo"]).sample(1.0)["host_net"]

    assert list(row) == ["ts", "interface", *NET_COUNTERS, *NET_RATES]
    assert row["interface"] == "lo"
    assert row["bytes_sent"] > 0
    assert all(row[rate] is None for rate in NET_RATES)


def test_loopback_rates_account_for_bytes_sent_over_it():
    """64 MiB over loopback TCP shows in ``lo``'s counters and rates."""
    collector = HostCollector(interfaces=["lo"])
    started = time.monotonic()
    (first,) = collector.sample(1.0)["host_net"]
    first_done = time.monotonic()

    _send_over_loopback(LOOPBACK_BYTES)

    second_due = time.monotonic()
    (second,) = collector.sample(2.0)["host_net"]
    ended = time.monotonic()

    sent = second["bytes_sent"] - first["bytes_sent"]
    # Headers and ACKs add a little; other loopback users on the box may too.
    assert LOOPBACK_BYTES <= sent <= LOOPBACK_BYTES * 1.25
    assert sent / (ended - started) <= second["tx_bytes_per_s"]
    assert second["tx_bytes_per_s"] <= sent / (second_due - first_done)
    assert second["rx_bytes_per_s"] == second["tx_bytes_per_s"]  # lo sends to itself


def test_counter_going_backwards_gives_an_empty_rate(monkeypatch):
    """A reset counter yields no rate rather than a negative one."""
    before = _nic(bytes_sent=5000, bytes_recv=100)
    after = _nic(bytes_sent=10, bytes_recv=900)
    readings = iter([before, after])
    monkeypatch.setattr(
        host_module.psutil, "net_io_counters", lambda pernic: {"eth9": next(readings)}
    )
    collector = HostCollector()
    collector.sample(1.0)

    (row,) = collector.sample(2.0)["host_net"]

    assert row["bytes_sent"] == 10
    assert row["tx_bytes_per_s"] is None
    assert row["rx_bytes_per_s"] > 0


def test_interfaces_limit_rows_and_a_missing_one_is_warned_once(caplog):
    """Only the named interfaces are rows; an absent name is a warning, once."""
    collector = HostCollector(interfaces=["lo", "nosuch0"])

    with caplog.at_level(logging.WARNING, logger="octperf.collectors.host"):
        first = collector.sample(1.0)["host_net"]
        collector.sample(2.0)

    assert [row["interface"] for row in first] == ["lo"]
    assert sum("nosuch0" in record.getMessage() for record in caplog.records) == 1


def _spin(cpu_seconds: float) -> None:
    """Burn a little CPU so the kernel's CPU counters move."""
    start = time.process_time()
    deadline = time.monotonic() + 5
    while time.process_time() - start < cpu_seconds and time.monotonic() < deadline:
        pass


def _send_over_loopback(count: int) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        received: list[int] = []
        reader = threading.Thread(target=_drain, args=(server, received))
        reader.start()
        with socket.create_connection(server.getsockname()) as client:
            client.sendall(b"\0" * count)
        reader.join(timeout=30)
    assert sum(received) == count


def _drain(server: socket.socket, received: list[int]) -> None:
    connection, _ = server.accept()
    with connection:
        while chunk := connection.recv(1 << 20):
            received.append(len(chunk))


def _nic(**counters: int) -> SimpleNamespace:
    values = dict.fromkeys(NET_COUNTERS, 0)
    values.update(counters)
    return SimpleNamespace(**values)
