"""Collectors: what the run samples while the load goes, and the loop that does it.

Each collector has a ``name`` and ``sample(ts)`` returning rows per table
(``haproxy_stat``, ``host_cpu``, ...; see docs/run-directory.md). The
Sampler polls them on a fixed schedule and appends the rows to a run
directory::

    with Sampler(run, [HAProxyCollector(sock), HostCollector()], 1.0):
        ...  # the load
"""

from octperf.collectors._sampler import Collector, Event, Sampler
from octperf.collectors.haproxy import (
    HAProxyCollector,
    StatsSocket,
    frontend_counter,
    parse_info_and_stat,
    parse_show_info,
    parse_show_stat,
)
from octperf.collectors.host import HostCollector, ProcessCollector

__all__ = [
    "Collector",
    "Event",
    "HAProxyCollector",
    "HostCollector",
    "ProcessCollector",
    "Sampler",
    "StatsSocket",
    "frontend_counter",
    "parse_info_and_stat",
    "parse_show_info",
    "parse_show_stat",
]
