"""Parsing /proc text, and the probe's output, into the host tables' columns."""

from __future__ import annotations

import pytest

from octperf.collectors._columns import CPU_FIELDS, NET_COUNTERS, NET_RATES
from octperf.collectors._proc import (
    NetReading,
    cpu_percentages,
    cpu_rows,
    memory_row,
    net_row,
    parse_loadavg,
    parse_meminfo,
    parse_net_dev,
    parse_proc_stat,
)
from octperf.collectors.ssh import split_sections
from octperf.errors import CollectorError

PROC_STAT = """\
cpu  1000 10 500 8000 100 0 40 0 0 0
cpu0 600 5 300 3900 60 0 30 0 0 0
cpu1 400 5 200 4100 40 0 10 0 0 0
intr 123456 0 9 0
ctxt 987654
btime 1796300000
processes 4242
procs_running 2
procs_blocked 0
softirq 5555 0 1 2 3
"""

MEMINFO = """\
MemTotal:       16384000 kB
MemFree:         8000000 kB
MemAvailable:   12000000 kB
Buffers:          100000 kB
Cached:          3000000 kB
SwapTotal:       2000000 kB
SwapFree:        1500000 kB
HugePages_Total:       4
Hugepagesize:       2048 kB
"""

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 5000      50    0    0    0     0          0         0     5000      50    0    0    0     0       0          0
  eth0:123456789 1000    1    2    0     0          0         3   987654   900    4    5    0     0       0          0
"""  # noqa: E501  (as the kernel prints it; eth0 without a space after the colon)


def test_proc_stat_gives_total_then_each_cpu_by_number():
    """The ``cpu`` line is ``total``; ``cpuN`` lines are ``N``; others are ignored."""
    cpus = parse_proc_stat(PROC_STAT)

    assert list(cpus) == ["total", "0", "1"]
    assert cpus["total"]["user"] == 1000
    assert cpus["1"]["idle"] == 4100
    assert cpus["0"]["guest_nice"] == 0


def test_proc_stat_of_an_old_kernel_lacks_the_fields_it_does_not_print():
    """A line with 7 numbers (before steal existed) gives only those 7 fields."""
    cpus = parse_proc_stat("cpu  1 2 3 4 5 6 7\n")

    assert list(cpus["total"]) == list(CPU_FIELDS[:7])  # up to softirq
    doubled = {field: value * 2 for field, value in cpus["total"].items()}
    (row,) = cpu_rows(cpus, {"total": doubled})
    assert row["steal"] is None
    assert row["busy"] is not None


def test_proc_stat_without_a_cpu_line_is_refused():
    """Text that is not /proc/stat raises CollectorError, not a KeyError later."""
    with pytest.raises(CollectorError, match="no 'cpu' line"):
        parse_proc_stat("intr 1 2 3\n")


def test_cpu_percentages_are_shares_of_the_elapsed_jiffies():
    """30 user, 10 system, 50 idle, 10 iowait jiffies of 100: those percentages."""
    before = _jiffies(user=100, system=50, idle=800, iowait=50)
    after = _jiffies(user=130, system=60, idle=850, iowait=60)

    row = cpu_percentages(before, after)

    assert (row["user"], row["system"], row["idle"], row["iowait"]) == (30, 10, 50, 10)
    assert row["nice"] == row["steal"] == 0
    assert row["busy"] == 40  # 100 - idle - iowait


def test_guest_time_is_not_counted_twice():
    """Guest jiffies are inside user already (proc(5)): 20 guest of 30 user."""
    before = _jiffies()
    after = _jiffies(user=30, idle=70, guest=20)

    row = cpu_percentages(before, after)

    assert row["user"] == 30
    assert row["idle"] == 70


def test_cpu_counter_going_backwards_counts_as_no_time():
    """A field that decreased adds nothing; no percentage is negative."""
    before = _jiffies(user=500, idle=100)
    after = _jiffies(user=400, idle=200)

    row = cpu_percentages(before, after)

    assert row["user"] == 0
    assert row["idle"] == 100


def test_no_elapsed_jiffies_gives_unknown_not_zero():
    """Comparing a reading with itself divides by nothing: every value None."""
    jiffies = _jiffies(user=5, idle=5)

    row = cpu_percentages(jiffies, jiffies)

    assert all(row[field] is None for field in (*CPU_FIELDS, "busy"))


def test_cpu_brought_online_between_readings_has_no_row():
    """A CPU absent from the earlier reading has nothing to compare: no row."""
    before = {"total": _jiffies(idle=10), "0": _jiffies(idle=10)}
    after = {"total": _jiffies(idle=30), "0": _jiffies(idle=20), "1": _jiffies()}

    rows = cpu_rows(before, after)

    assert [row["cpu"] for row in rows] == ["total", "0"]


def test_meminfo_values_are_bytes_and_counts_stay_counts():
    """``kB`` values are multiplied by 1024; unitless ones are kept."""
    info = parse_meminfo(MEMINFO)

    assert info["MemTotal"] == 16384000 * 1024
    assert info["HugePages_Total"] == 4
    assert info["Hugepagesize"] == 2048 * 1024


def test_memory_row_defines_used_as_total_minus_available():
    """As psutil and ``free``: used = total - available; swap used = total - free."""
    row = memory_row(parse_meminfo(MEMINFO))

    assert row == {
        "total_bytes": 16384000 * 1024,
        "available_bytes": 12000000 * 1024,
        "used_bytes": 4384000 * 1024,
        "swap_total_bytes": 2000000 * 1024,
        "swap_used_bytes": 500000 * 1024,
    }


def test_memory_without_memavailable_is_unknown_not_zero():
    """Kernels before 3.14 lack MemAvailable: available and used are None."""
    row = memory_row(parse_meminfo("MemTotal: 1000 kB\nMemFree: 10 kB\n"))

    assert row["total_bytes"] == 1024000
    assert row["available_bytes"] is None
    assert row["used_bytes"] is None


def test_net_dev_counters_take_psutil_names():
    """Receive and transmit columns map to bytes_recv ... dropout, per interface."""
    interfaces = parse_net_dev(NET_DEV)

    assert list(interfaces) == ["lo", "eth0"]
    assert interfaces["eth0"] == {
        "bytes_recv": 123456789,
        "packets_recv": 1000,
        "errin": 1,
        "dropin": 2,
        "bytes_sent": 987654,
        "packets_sent": 900,
        "errout": 4,
        "dropout": 5,
    }
    assert set(interfaces["lo"]) == set(NET_COUNTERS)


def test_net_dev_line_without_counters_is_refused():
    """A truncated line raises CollectorError quoting it."""
    header = "\n".join(NET_DEV.splitlines()[:2])

    with pytest.raises(CollectorError, match="eth0"):
        parse_net_dev(f"{header}\n  eth0: 1 2 3\n")


def test_net_rates_are_per_second_between_readings():
    """2000 bytes over 0.5 s of the host's clock is 4000 B/s; first reading: None."""
    first = NetReading(10.0, _counters(bytes_sent=1000, packets_sent=10))
    second = NetReading(10.5, _counters(bytes_sent=3000, packets_sent=20))

    assert all(net_row(None, first)[rate] is None for rate in NET_RATES)
    row = net_row(first, second)

    assert row["bytes_sent"] == 3000
    assert row["tx_bytes_per_s"] == 4000
    assert row["tx_packets_per_s"] == 20
    assert row["rx_bytes_per_s"] == 0


def test_net_counter_going_backwards_gives_no_rate_rather_than_negative():
    """A reset interface yields None for that rate; the others stay."""
    first = NetReading(1.0, _counters(bytes_sent=5000, bytes_recv=100))
    second = NetReading(2.0, _counters(bytes_sent=10, bytes_recv=900))

    row = net_row(first, second)

    assert row["tx_bytes_per_s"] is None
    assert row["rx_bytes_per_s"] == 800


def test_loadavg_gives_the_three_averages_and_task_counts():
    """``0.52 0.58 0.59 2/1234 56789``: loads, runnable and total tasks."""
    row = parse_loadavg("0.52 0.58 0.59 2/1234 56789\n")

    assert row == {
        "load_1": 0.52,
        "load_5": 0.58,
        "load_15": 0.59,
        "runnable_tasks": 2,
        "tasks": 1234,
    }


def test_loadavg_that_is_not_one_is_refused():
    """Other text raises CollectorError quoting it."""
    with pytest.raises(CollectorError, match="loadavg"):
        parse_loadavg("sh: 1: cat: not found\n")


def test_sections_split_at_boundary_lines_only():
    """Text before the first boundary is dropped; a boundary inside a line is text."""
    boundary = "--octperf-0123"
    text = (
        "Welcome to the amphora\n"
        f"{boundary} /proc/loadavg\n0.1 0.2 0.3 1/2 3\n\n"
        f"{boundary} show info\nName: HAProxy, not {boundary} x\n\n"
        f"{boundary} end\n\n"
    )

    sections = split_sections(text, boundary)

    assert sections["/proc/loadavg"] == "0.1 0.2 0.3 1/2 3\n"
    assert sections["show info"] == f"Name: HAProxy, not {boundary} x\n"
    assert list(sections) == ["/proc/loadavg", "show info", "end"]


def test_output_cut_short_is_refused():
    """Without the ``end`` section the output is incomplete: CollectorError."""
    with pytest.raises(CollectorError, match="cut short"):
        split_sections("--b /proc/stat\ncpu  1 2 3\n", "--b")


def _jiffies(**values: int) -> dict[str, int]:
    fields = (*CPU_FIELDS, "guest", "guest_nice")
    return {field: values.get(field, 0) for field in fields}


def _counters(**values: int) -> dict[str, int]:
    return {counter: values.get(counter, 0) for counter in NET_COUNTERS}
