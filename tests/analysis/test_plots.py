from __future__ import annotations

import shutil

import pytest

from octperf import analysis
from tests.analysis import synthetic as s

PLOTS = {
    "requests": lambda run: analysis.plot_requests(
        analysis.client_rate(run), analysis.haproxy_rate(run)
    ),
    "latency": lambda run: analysis.plot_latency(analysis.latency(run)),
    "failures": lambda run: analysis.plot_failures(analysis.client_rate(run)),
    "sessions": lambda run: analysis.plot_sessions(analysis.connections(run)),
    "queues": lambda run: analysis.plot_queues(analysis.connections(run)),
    "cpu_by_role": lambda run: analysis.plot_cpu_by_role(analysis.cpu_by_role(run)),
    "host_cpu": lambda run: analysis.plot_host_cpu(analysis.host_cpu(run)),
    "agent_cpu": lambda run: analysis.plot_agent_cpu(
        analysis.agent_cpu(run), analysis.host_cpu(run)
    ),
    "agent_memory": lambda run: analysis.plot_agent_memory(
        analysis.agent_memory(run), analysis.host_memory(run)
    ),
    "agent_transmit": lambda run: analysis.plot_agent_network(
        analysis.agent_net(run), analysis.haproxy_bytes_rate(run), "transmit"
    ),
    "agent_receive": lambda run: analysis.plot_agent_network(
        analysis.agent_net(run), analysis.haproxy_bytes_rate(run), "receive"
    ),
    "heartbeat_transmit": lambda run: analysis.plot_heartbeat_bytes(
        analysis.heartbeats(run), "transmit"
    ),
    "heartbeat_receive": lambda run: analysis.plot_heartbeat_bytes(
        analysis.heartbeats(run), "receive"
    ),
    "heartbeat_connections": lambda run: analysis.plot_heartbeat_connections(
        analysis.heartbeats(run)
    ),
}


def _texts(ax):
    return [text.get_text() for text in ax.texts]


def _legend(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


@pytest.mark.parametrize("name", list(PLOTS))
def test_plots_say_no_data_for_a_run_without_tables(run, name):
    """Each plot of an empty frame is drawn and says "no data"."""
    shutil.rmtree(run.tables_dir)

    ax = PLOTS[name](run)

    assert _texts(ax) == ["no data"]
    assert ax.get_title()


@pytest.mark.parametrize("name", list(PLOTS))
def test_plots_draw_lines_over_time_since_load_start(run, name):
    """With data, each plot has lines over t and no "no data" mark."""
    ax = PLOTS[name](run)

    assert any(len(line.get_xdata()) for line in ax.lines)
    assert "no data" not in _texts(ax)
    assert ax.get_xlabel() == "seconds since load start"


def test_plot_requests_draws_client_and_haproxy_on_one_axis(run):
    """One line per source, the HAProxy one named by its frontend."""
    ax = PLOTS["requests"](run)

    assert _legend(ax) == ["client (Locust)", f"HAProxy {s.LISTENER}"]


def test_plot_sessions_draws_scur_against_slim(run):
    """The frontend's scur and slim are two lines of one plot."""
    ax = PLOTS["sessions"](run)

    assert _legend(ax) == ["scur", "slim"]
    drawn = [line.get_ydata() for line in ax.lines if len(line.get_ydata())]
    assert max(max(y) for y in drawn) == s.SLIM


def _line(ax, label):
    """The points drawn for a legend entry, as (x, y) lists, in time order."""
    handles, labels = ax.get_legend_handles_labels()
    colour = handles[labels.index(label)].get_color()
    # Seaborn draws legend proxies; the data lines have the same colour.
    points = sorted(
        (x, y)
        for line in ax.lines
        if line.get_color() == colour
        for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)
    )
    return [x for x, _ in points], [y for _, y in points]


def _segments(ax, label):
    """How many separate lines a legend entry is drawn as."""
    handles, labels = ax.get_legend_handles_labels()
    colour = handles[labels.index(label)].get_color()
    return sum(
        1 for line in ax.lines if line.get_color() == colour and len(line.get_xdata())
    )


def test_plot_agent_cpu_draws_the_agent_beside_psutil(run):
    """Two lines: the agent's jiffies and psutil's busy of all CPUs."""
    ax = PLOTS["agent_cpu"](run)

    assert _legend(ax) == ["amphora agent (jiffies)", "host busy (psutil)"]
    x, y = _line(ax, "amphora agent (jiffies)")
    assert y[x.index(7.0)] == 49.0  # the sample at T0 + 9


def test_plot_agent_cpu_breaks_the_agents_line_where_it_failed(run):
    """Samples 5-8 and 18 failed: three lines, none bridging a gap."""
    ax = PLOTS["agent_cpu"](run)

    assert _segments(ax, "amphora agent (jiffies)") == 3
    assert _segments(ax, "host busy (psutil)") == 1


def test_plot_agent_network_draws_interfaces_beside_haproxy_in_mbit(run, synthetic):
    """eth1 and eth2 tx next to the frontend's bout, in Mbit/s."""
    ax = PLOTS["agent_transmit"](run)

    assert _legend(ax) == [
        "eth1 tx (agent)",
        "eth2 tx (agent)",
        "frontend bout (HAProxy)",
    ]
    assert ax.get_ylabel() == "Mbit/s"
    x, y = _line(ax, "frontend bout (HAProxy)")
    # The interval from T0 + 2 to T0 + 3 is drawn at its end, t = 1.
    assert y[x.index(1.0)] == s.BYTES_OUT * synthetic.requests[2] * 8 / 1e6


def test_plot_agent_network_refuses_an_unknown_direction(run):
    """Only transmit and receive."""
    with pytest.raises(ValueError, match="transmit"):
        analysis.plot_agent_network(
            analysis.agent_net(run), analysis.haproxy_bytes_rate(run), "sideways"
        )


def test_plot_heartbeat_bytes_draws_both_views_in_mb(run):
    """tx from the heartbeat beside bout from HAProxy, in MB per heartbeat."""
    ax = PLOTS["heartbeat_transmit"](run)

    assert _legend(ax) == ["tx (heartbeat)", "bout (HAProxy)"]
    assert ax.get_ylabel() == "MB"


def test_plot_heartbeat_bytes_breaks_haproxys_line_at_the_reload(run):
    """HAProxy's unknown intervals are a break in its line, not a bridge."""
    ax = PLOTS["heartbeat_transmit"](run)

    x, _ = _line(ax, "bout (HAProxy)")
    # Heartbeats at T0 + 11.5 and 12.5 span the reload; t counts from T0 + 2.
    assert _segments(ax, "bout (HAProxy)") == 2
    assert 9.5 not in x and 10.5 not in x and {8.5, 11.5} <= set(x)
    assert _segments(ax, "tx (heartbeat)") == 1


def test_plot_heartbeat_connections_colours_quantity_and_dashes_source(run):
    """Current and new connections, each from the heartbeat and from HAProxy."""
    ax = PLOTS["heartbeat_connections"](run)

    legend = _legend(ax)
    for entry in [
        "current",
        "new",
        "heartbeat (conns, totconns)",
        "HAProxy (scur, stot)",
    ]:
        assert entry in legend


def test_stacked_axes_share_time_and_label_it_once(run):
    """Panels one above the other; only the bottom one says what x is."""
    axes = analysis.stacked_axes(3)
    for ax in axes:
        analysis.plot_agent_cpu(analysis.agent_cpu(run), analysis.host_cpu(run), ax)

    assert len(axes) == 3 and len({ax.figure for ax in axes}) == 1
    assert [ax.get_xlabel() for ax in axes] == ["", "", "seconds since load start"]
