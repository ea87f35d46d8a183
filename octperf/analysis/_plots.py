"""Plots over time of the frames in this package, one per report section.

Each takes the frame(s) it draws, draws on ``ax`` (a new figure when not
given) and returns the axes. An empty frame gives axes that say "no data".
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

FIGSIZE = (9.0, 3.5)
TIME_LABEL = "seconds since load start"


def plot_requests(
    client: pd.DataFrame, haproxy: pd.DataFrame, ax: Axes | None = None
) -> Axes:
    """Requests per second sent by Locust and received by each HAProxy frontend.

    Takes ``client_rate(run)`` and ``haproxy_rate(run)``.
    """
    sent = client.assign(source="client (Locust)", requests_per_s=client["requests"])
    received = haproxy.assign(source="HAProxy " + haproxy["frontend"].astype(str))
    frame = pd.concat(
        [f[["t", "source", "requests_per_s"]] for f in (sent, received)],
        ignore_index=True,
    )
    title = "Requests per second"
    return _lines(frame, "requests_per_s", "source", None, title, "req/s", ax)


def plot_latency(latency: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Per-second latency percentiles; takes ``latency(run)``."""
    title = "Response time per second"
    return _lines(latency, "latency_ms", "percentile", "percentile", title, "ms", ax)


def plot_failures(client: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Failed requests per second as Locust counted them; takes ``client_rate(run)``."""
    title = "Failures per second"
    return _lines(client, "failures", None, None, title, "failures/s", ax)


def plot_sessions(connections: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Each frontend's current sessions (``scur``) against its limit (``slim``).

    Takes ``connections(run)``.
    """
    frontends = connections[connections["kind"] == "frontend"]
    frame = frontends.melt(
        id_vars=["t", "pxname"], value_vars=["scur", "slim"], var_name="field"
    )
    frame["series"] = frame["field"] + _suffix(frame["pxname"])
    title = "Frontend sessions against their limit"
    return _lines(frame, "value", "series", None, title, "sessions", ax)


def plot_queues(connections: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Requests queued (``qcur``) in each backend and at each server.

    Takes ``connections(run)``.
    """
    queued = connections[connections["kind"].isin(["backend", "server"])]
    names = queued["svname"].astype(str) + _suffix(queued["pxname"])
    frame = queued.assign(series=names)
    title = "Queued requests"
    return _lines(frame, "qcur", "series", "server", title, "requests", ax)


def plot_cpu_by_role(cpu: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """CPU of each role in percent of one core; takes ``cpu_by_role(run)``."""
    title = "CPU per role"
    return _lines(cpu, "cpu_percent", "role", "role", title, "% of one core", ax)


def plot_host_cpu(host: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Host CPU: busy over all CPUs, busy of the hottest CPU, softirq.

    Takes ``host_cpu(run)``. One hot core can saturate HAProxy while the
    average looks idle, hence the hottest CPU.
    """
    total = host[host["cpu"] == "total"]
    per_cpu = host[host["cpu"] != "total"]
    series = {
        "busy, all CPUs": total[["t", "busy"]],
        "busy, hottest CPU": per_cpu.groupby("t", as_index=False)["busy"].max(),
        "softirq, all CPUs": total[["t", "softirq"]].set_axis(["t", "busy"], axis=1),
    }
    frame = pd.concat(
        [part.assign(series=name) for name, part in series.items()], ignore_index=True
    )
    return _lines(frame, "busy", "series", None, "Host CPU", "% of a CPU", ax)


def _lines(
    frame: pd.DataFrame,
    y: str,
    hue: str | None,
    legend: str | None,
    title: str,
    ylabel: str,
    ax: Axes | None,
) -> Axes:
    """Lines of ``y`` over ``t``, one per ``hue`` value; "no data" when empty.

    The legend, titled ``legend``, sits right of the axes.
    """
    if ax is None:
        ax = plt.figure(figsize=FIGSIZE).gca()
    ax.set(title=title, xlabel=TIME_LABEL, ylabel=ylabel)
    data = frame.dropna(subset=[y])
    if data.empty:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return ax
    # Each (t, hue) pair is one sample: no estimator, no error band.
    sns.lineplot(data, x="t", y=y, hue=hue, estimator=None, errorbar=None, ax=ax)
    if hue is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), title=legend)
    return ax


def _suffix(names: pd.Series) -> pd.Series:
    """`` <name>`` when several proxies are drawn, else nothing."""
    if names.nunique() <= 1:
        return pd.Series("", index=names.index)
    return " " + names.astype(str)
