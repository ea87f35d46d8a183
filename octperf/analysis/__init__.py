"""What a stored run says: tidy frames, window percentiles, a summary, plots.

The analysis reads run directories only (docs/run-directory.md), so it
works as well on a run imported from a production amphora as on one octperf
made. Each frame function takes a ``RunDir`` and returns a pandas frame with
``ts`` (Unix seconds) and ``t`` (seconds since the load started); a table
the run lacks gives an empty frame, never an error.

    run = octperf.open_run("data/runs/20261203T171500Z-demo-1a2b3c")
    analysis.latency(run)              # p50/p90/p99 per second
    analysis.latency_percentiles(run)  # over the whole load window, exact
    analysis.gaps(run)                 # what a collector failed to sample, why
    analysis.heartbeats(run)           # Octavia's view beside HAProxy's

Amphora runs add the agent's view (``agent_cpu``, ``agent_memory``,
``agent_net``) and the heartbeat's (``heartbeats``, ``heartbeat_totals``);
``has_amphora_agent`` and ``has_heartbeat`` say whether a run has them.
"""

from octperf.analysis._agent import (
    agent_cpu,
    agent_cpu_mean,
    agent_memory,
    agent_net,
    has_amphora_agent,
)
from octperf.analysis._frames import (
    client_rate,
    connections,
    cpu_by_role,
    frontend_increases,
    haproxy_bytes_rate,
    haproxy_rate,
    haproxy_restarts,
    host_cpu,
    host_memory,
    latency,
)
from octperf.analysis._gaps import events, gap_count, gaps, gaps_and_events_table
from octperf.analysis._hdr import latency_percentiles, merged_histogram
from octperf.analysis._headroom import Headroom, highest_sustainable
from octperf.analysis._heartbeat import (
    has_heartbeat,
    heartbeat_count,
    heartbeat_totals,
    heartbeats,
)
from octperf.analysis._knee import Knee, find_knee
from octperf.analysis._little import littles_law
from octperf.analysis._plots import (
    plot_agent_cpu,
    plot_agent_memory,
    plot_agent_network,
    plot_cpu_by_role,
    plot_failures,
    plot_heartbeat_bytes,
    plot_heartbeat_connections,
    plot_host_cpu,
    plot_latency,
    plot_queues,
    plot_requests,
    plot_sessions,
    stacked_axes,
)
from octperf.analysis._summary import NO_DATA, summary_table
from octperf.analysis._time import load_window, time_origin
from octperf.analysis.usl import (
    Coefficient,
    Peak,
    Prediction,
    UslFit,
    fit_usl,
    read_points,
)

__all__ = [
    "NO_DATA",
    "Coefficient",
    "Headroom",
    "Knee",
    "Peak",
    "Prediction",
    "UslFit",
    "agent_cpu",
    "agent_cpu_mean",
    "agent_memory",
    "agent_net",
    "client_rate",
    "connections",
    "cpu_by_role",
    "events",
    "find_knee",
    "fit_usl",
    "frontend_increases",
    "gap_count",
    "gaps",
    "gaps_and_events_table",
    "haproxy_bytes_rate",
    "haproxy_rate",
    "haproxy_restarts",
    "has_amphora_agent",
    "has_heartbeat",
    "heartbeat_count",
    "heartbeat_totals",
    "heartbeats",
    "highest_sustainable",
    "host_cpu",
    "host_memory",
    "latency",
    "latency_percentiles",
    "littles_law",
    "load_window",
    "merged_histogram",
    "plot_agent_cpu",
    "plot_agent_memory",
    "plot_agent_network",
    "plot_cpu_by_role",
    "plot_failures",
    "plot_heartbeat_bytes",
    "plot_heartbeat_connections",
    "plot_host_cpu",
    "plot_latency",
    "plot_queues",
    "plot_requests",
    "plot_sessions",
    "read_points",
    "stacked_axes",
    "summary_table",
    "time_origin",
]
