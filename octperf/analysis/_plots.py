"""Plots over time of the frames in this package, one per report section.

Each takes the frame(s) it draws, draws on ``ax`` (a new figure when not
given) and returns the axes. An empty frame gives axes that say "no data".
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

FIGSIZE = (9.0, 3.5)
PANEL_HEIGHT = 2.6
TIME_LABEL = "seconds since load start"
BYTES_PER_MBIT_S = 1e6 / 8  # a rate in bytes/s over this is in Mbit/s
BYTES_PER_MB = 1e6
# A step this many times a series' usual one means samples are missing there.
MISSED_STEP = 1.5
# plot_agent_network's directions: the agent's column, HAProxy's counter.
DIRECTIONS = {"transmit": ("tx", "bout"), "receive": ("rx", "bin")}


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


def plot_agent_cpu(
    agent: pd.DataFrame, host: pd.DataFrame, ax: Axes | None = None
) -> Axes:
    """The agent's CPU % beside psutil's busy over all CPUs of the same host.

    Takes ``agent_cpu(run)`` and ``host_cpu(run)``. Each value covers the
    interval before its point; the agent leaves out nice, irq and steal.
    """
    total = host[host["cpu"] == "total"].rename(columns={"busy": "cpu_percent"})
    parts = {"amphora agent (jiffies)": agent, "host busy (psutil)": total}
    frame = _series(parts, "cpu_percent")
    title = "CPU, all CPUs: the agent's view and psutil's"
    return _lines(frame, "cpu_percent", "series", None, title, "%", ax, dots=True)


def plot_agent_memory(
    agent: pd.DataFrame, host: pd.DataFrame, ax: Axes | None = None
) -> Axes:
    """Memory in use in MiB, as the agent reports it and as psutil saw it.

    Takes ``agent_memory(run)`` and ``host_memory(run)``. The two count
    differently (see each), so they differ by reclaimable kernel memory.
    """
    parts = {
        "amphora agent (total - free - buffers - cached)": agent,
        "psutil (total - available)": host,
    }
    frame = _series(parts, "used_mib")
    title = "Memory used"
    return _lines(frame, "used_mib", "series", None, title, "MiB", ax, dots=True)


def plot_agent_network(
    net: pd.DataFrame,
    haproxy: pd.DataFrame,
    direction: str = "transmit",
    ax: Axes | None = None,
) -> Axes:
    """The amphora's interface rates beside HAProxy's frontend bytes, Mbit/s.

    Takes ``agent_net(run)`` and ``haproxy_bytes_rate(run)``; ``direction``
    ``transmit`` draws each interface's tx beside the frontend's ``bout``,
    ``receive`` rx beside ``bin``. Rates are drawn at the end of their
    interval, as the agent's are. ``eth1`` carries the clients' traffic, so
    its tx exceeds ``bout`` only by TCP/IP overhead; ``eth2`` the members'.
    """
    field, counter = _direction(direction)
    parts = {
        f"{interface} {field} (agent)": rows.assign(rate=rows[f"{field}_bytes_per_s"])
        for interface, rows in net.groupby("interface", sort=True)
    }
    several = haproxy["frontend"].nunique() > 1
    for frontend, rows in haproxy.groupby("frontend", sort=False):
        name = f"frontend {counter} (HAProxy)" + (f" {frontend}" if several else "")
        end = rows["t"] + rows["interval_s"]
        parts[name] = rows.assign(t=end, rate=rows[f"{counter}_per_s"])
    frame = _series(parts, "rate") if parts else pd.DataFrame(columns=["t", "rate"])
    frame["rate"] = frame["rate"] / BYTES_PER_MBIT_S
    title = f"Network, {direction}: the amphora's interfaces and HAProxy"
    return _lines(frame, "rate", "series", None, title, "Mbit/s", ax, dots=True)


def plot_heartbeat_bytes(
    beats: pd.DataFrame, direction: str = "transmit", ax: Axes | None = None
) -> Axes:
    """Bytes per heartbeat, from the heartbeat and from HAProxy, in MB.

    Takes ``heartbeats(run)``. ``transmit``: the listener's ``tx`` beside
    the frontend's ``bout`` increase over the same interval; ``receive``:
    ``rx`` beside ``bin``. HAProxy's side is missing across a reload.
    """
    field, counter = _direction(direction)
    names = _suffix(beats["listener_id"])
    frame = pd.concat(
        [
            beats.assign(series=f"{field} (heartbeat)" + names, mb=beats[field]),
            beats.assign(
                series=f"{counter} (HAProxy)" + names, mb=beats[f"haproxy_{counter}"]
            ),
        ],
        ignore_index=True,
    )
    frame["mb"] = frame["mb"] / BYTES_PER_MB
    title = f"Bytes per heartbeat, {direction}: Octavia's view and HAProxy's"
    return _lines(frame, "mb", "series", None, title, "MB", ax, style="series")


def plot_heartbeat_connections(beats: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Connections per heartbeat: current and new, heartbeat against HAProxy.

    Takes ``heartbeats(run)``. Current: ``conns`` against the nearest
    sample's ``scur``; new: ``totconns`` against the ``stot`` increase over
    the heartbeat's interval. Colour is the quantity, dashes the source.
    """
    names = _suffix(beats["listener_id"])
    pairs = [
        ("current" + names, "heartbeat (conns, totconns)", "conns"),
        ("current" + names, "HAProxy (scur, stot)", "haproxy_scur"),
        ("new" + names, "heartbeat (conns, totconns)", "totconns"),
        ("new" + names, "HAProxy (scur, stot)", "haproxy_stot"),
    ]
    frame = pd.concat(
        [
            beats.assign(quantity=quantity, source=source, connections=beats[field])
            for quantity, source, field in pairs
        ],
        ignore_index=True,
    )
    title = "Connections per heartbeat: Octavia's view and HAProxy's"
    return _lines(
        frame, "connections", "quantity", None, title, "connections", ax, "source"
    )


def stacked_axes(rows: int) -> list[Axes]:
    """``rows`` axes of one figure, one above the other, sharing the time axis.

    Only the bottom one carries the time label; the plots here draw on them.
    """
    height = PANEL_HEIGHT * rows + 0.6
    _, axes = plt.subplots(
        rows, 1, figsize=(FIGSIZE[0], height), sharex=True, layout="constrained"
    )
    return list(np.atleast_1d(axes))


def _lines(
    frame: pd.DataFrame,
    y: str,
    hue: str | None,
    legend: str | None,
    title: str,
    ylabel: str,
    ax: Axes | None,
    style: str | None = None,
    dots: bool = False,
) -> Axes:
    """Lines of ``y`` over ``t``, one per ``hue`` value; "no data" when empty.

    ``style`` dashes the lines by another column (the source, say); ``dots``
    marks each sample, so that a lone one between gaps shows. The legend,
    titled ``legend``, sits right of the axes.
    """
    if ax is None:
        ax = plt.figure(figsize=FIGSIZE).gca()
    data = _segmented(frame, y, [c for c in (hue, style) if c is not None])
    if data.empty:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    else:
        # Each (t, hue) pair is one sample: no estimator, no error band.
        sns.lineplot(
            data,
            x="t",
            y=y,
            hue=hue,
            style=style,
            units="segment",
            estimator=None,
            errorbar=None,
            ax=ax,
            **({"marker": "o", "markersize": 3} if dots else {}),
        )
    if hue is not None and ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), title=legend)
    # After seaborn, which labels the axes with the column names.
    ax.set(title=title, xlabel=_time_label(ax), ylabel=ylabel)
    return ax


def _segmented(frame: pd.DataFrame, y: str, series: list[str]) -> pd.DataFrame:
    """Rows with a known ``y``, and ``segment``: which stretch of its series.

    A series' segment changes at each unknown value and wherever a sample
    is missing (a step over 1.5 times the series' median step), so its
    line breaks there instead of bridging what was not measured.
    """
    frame = frame.reset_index(drop=True)
    known = frame[frame[y].notna()]
    if known.empty:
        return known
    # In time order, but rows keep their order: it orders the legend.
    in_time = frame.sort_values("t", kind="stable")
    if not series:
        return known.assign(segment=_breaks(in_time, y).cumsum())
    parts = in_time.groupby(series, sort=False, dropna=False)
    breaks = pd.concat([_breaks(part, y) for _, part in parts])
    keys = [in_time[c] for c in series]
    segment = breaks.groupby(keys, dropna=False).cumsum()
    return known.assign(segment=segment)


def _breaks(part: pd.DataFrame, y: str) -> pd.Series:
    """Where one series' line must break: unknown values and missed samples."""
    unknown = part[y].isna()
    steps = part.loc[~unknown, "t"].diff()
    if steps.count() < 2:
        return unknown
    missed = (steps > MISSED_STEP * steps.median()).reindex(
        part.index, fill_value=False
    )
    return unknown | missed


def _time_label(ax: Axes) -> str:
    """The time label, left off axes that have others below them."""
    spec = ax.get_subplotspec()
    return TIME_LABEL if spec is None or spec.is_last_row() else ""


def _direction(direction: str) -> tuple[str, str]:
    """The agent's column and HAProxy's counter of ``transmit`` or ``receive``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r}: use one of {list(DIRECTIONS)}")
    return DIRECTIONS[direction]


def _series(parts: dict[str, pd.DataFrame], y: str) -> pd.DataFrame:
    """One long frame of ``t`` and ``y`` with ``series`` naming each part."""
    frames = [part[["t", y]].assign(series=name) for name, part in parts.items()]
    return pd.concat(frames, ignore_index=True)


def _suffix(names: pd.Series) -> pd.Series:
    """`` <name>`` when several proxies are drawn, else nothing."""
    if names.nunique() <= 1:
        return pd.Series("", index=names.index)
    return " " + names.astype(str)
