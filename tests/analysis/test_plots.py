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
