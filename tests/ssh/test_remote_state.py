"""RemoteCollector's bookkeeping between samples, on canned probe output."""

from __future__ import annotations

import shlex

import pytest

from octperf.collectors.ssh import STATS_SECTION, RemoteCollector
from octperf.errors import CollectorError

NET_HEADER = "Inter-| Receive | Transmit\n face |bytes packets ...|bytes packets ...\n"
LOADAVG = "0.10 0.20 0.30 1/99 4242\n"
MEMINFO = "MemTotal: 1000 kB\nMemAvailable: 600 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n"
SHOW_INFO = "Name: HAProxy\nPid: 7\n\n"
SHOW_STAT = "# pxname,svname,req_tot,\nvip,FRONTEND,5,\n\n"


class CannedHost:
    """Stands for SSHHost: answers each run() with the next canned reading."""

    host, port, user = "192.0.2.7", 22, "root"

    def __init__(self) -> None:
        self.readings: list[dict[str, str]] = []
        self.commands = 0

    def add(self, monotonic: float, idle: int, eth0_tx: int, **extra: str) -> None:
        """A reading: idle jiffies (user = 1000 - idle), eth0's bytes sent."""
        eth0 = f"  eth0: {' 0' * 8} {eth0_tx}{' 0' * 7}\n"
        self.readings.append(
            {
                "monotonic": repr(monotonic),
                "/proc/net/dev": NET_HEADER + eth0,
                "/proc/stat": f"cpu  {1000 - idle} 0 0 {idle} 0 0 0 0 0 0\n",
                "/proc/meminfo": MEMINFO,
                "/proc/loadavg": LOADAVG,
                **extra,
                "end": "",
            }
        )

    def run(self, command: str) -> str:
        """The next reading, framed by the boundary the command passes to PROBE."""
        self.commands += 1
        words = shlex.split(command)
        boundary = next(word for word in words if word.startswith("--octperf-"))
        reading = self.readings.pop(0)
        return "".join(f"{boundary} {k}\n{v}\n" for k, v in reading.items())


@pytest.fixture
def canned() -> CannedHost:
    return CannedHost()


def _collector(canned: CannedHost, **kwargs) -> RemoteCollector:
    return RemoteCollector(canned, **kwargs)  # type: ignore[arg-type]


def test_cpu_sampled_too_soon_is_unknown_and_the_next_sample_covers_both(canned):
    """Under 0.05 s of the host's clock: None; the next one spans from the base."""
    canned.add(10.00, idle=100, eth0_tx=0)
    canned.add(10.01, idle=150, eth0_tx=0)  # 0.01 s later: too soon
    canned.add(11.00, idle=200, eth0_tx=0)
    collector = _collector(canned)

    assert collector.sample(1.0)["host_cpu"] == []
    (too_soon,) = collector.sample(2.0)["host_cpu"]
    (later,) = collector.sample(3.0)["host_cpu"]

    assert too_soon["idle"] is None and too_soon["busy"] is None
    # cpu line: user = 1000 - idle, so from the base both moved by 100 jiffies.
    assert later["idle"] == 100.0
    assert later["user"] == 0.0


def test_rates_use_the_hosts_clock_and_never_go_negative(canned):
    """1000 bytes over 0.5 s of the host's clock: 2000 B/s; a reset: None."""
    canned.add(5.0, idle=0, eth0_tx=4000)
    canned.add(5.5, idle=0, eth0_tx=5000)
    canned.add(6.5, idle=0, eth0_tx=10)  # interface recreated
    collector = _collector(canned, interfaces=["eth0"])

    rates = [
        collector.sample(float(n))["host_net"][0]["tx_bytes_per_s"] for n in (1, 2, 3)
    ]

    assert rates == [None, 2000.0, None]


def test_stats_socket_error_still_moves_the_host_base(canned):
    """A sample whose socket failed raises; the next covers only its own interval."""
    stats = {STATS_SECTION: SHOW_INFO + SHOW_STAT}
    canned.add(1.0, idle=0, eth0_tx=0, **stats)
    canned.add(2.0, idle=500, eth0_tx=0, error="[Errno 13] Permission denied")
    canned.add(3.0, idle=500, eth0_tx=0, **stats)
    collector = _collector(canned, stats_socket="/var/lib/haproxy.sock")

    first = collector.sample(1.0)
    with pytest.raises(CollectorError, match="Permission denied; check that HAProxy"):
        collector.sample(2.0)
    third = collector.sample(3.0)

    assert first["haproxy_stat"][0]["req_tot"] == "5"
    assert first["haproxy_info"][0]["Pid"] == "7"
    (cpu,) = third["host_cpu"]
    assert cpu["idle"] is None  # idle did not move between samples 2 and 3
    assert canned.commands == 3


def test_answer_without_a_proc_section_is_refused(canned):
    """A reading lacking /proc/stat raises CollectorError naming what is missing."""
    canned.add(1.0, idle=0, eth0_tx=0)
    del canned.readings[0]["/proc/stat"]
    collector = _collector(canned)

    with pytest.raises(CollectorError, match=r"lacks \['/proc/stat'\]"):
        collector.sample(1.0)
