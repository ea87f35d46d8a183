"""Plots across a sweep's steps (one point per step)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes


def plot_throughput_vs_users(
    steps: pd.DataFrame, fitted: pd.DataFrame | None = None, ax: Axes | None = None
) -> Axes:
    """Measured throughput per step with its 95 % interval; a fitted curve if given."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    if steps.empty:
        ax.set_title("Throughput against users: no data")
        return ax
    errors = [
        steps["throughput"] - steps["throughput_ci_low"],
        steps["throughput_ci_high"] - steps["throughput"],
    ]
    ax.errorbar(
        steps["users"],
        steps["throughput"],
        yerr=errors,
        fmt="o",
        capsize=3,
        label="measured (95 % CI)",
    )
    if fitted is not None and not fitted.empty:
        ax.plot(fitted["users"], fitted["throughput"], label="USL fit")
        if {"low", "high"} <= set(fitted.columns):
            ax.fill_between(
                fitted["users"],
                fitted["low"],
                fitted["high"],
                alpha=0.2,
                label="95 % band",
            )
    ax.set(
        xlabel="users (concurrency N)",
        ylabel="requests/s",
        title="Throughput against users",
    )
    ax.legend()
    return ax


def plot_latency_vs_users(steps: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """p50, p90 and p99 latency per step (merged histograms of each window)."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    if steps.empty:
        ax.set_title("Latency against users: no data")
        return ax
    names = {"latency_p50_ms": "p50", "latency_p90_ms": "p90", "latency_p99_ms": "p99"}
    long = steps.melt(
        id_vars="users", value_vars=list(names), var_name="percentile", value_name="ms"
    ).replace({"percentile": names})
    sns.lineplot(data=long, x="users", y="ms", hue="percentile", marker="o", ax=ax)
    ax.set(xlabel="users (concurrency N)", ylabel="ms", title="Latency against users")
    return ax


def plot_latency_vs_throughput(steps: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """p50 and p99 latency against each step's throughput: where latency turns up."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    if steps.empty:
        ax.set_title("Latency against throughput: no data")
        return ax
    for column, name in (("latency_p50_ms", "p50"), ("latency_p99_ms", "p99")):
        ordered = steps.sort_values("users")
        ax.plot(ordered["throughput"], ordered[column], marker="o", label=name)
    ax.set(xlabel="requests/s", ylabel="ms", title="Latency against throughput")
    ax.legend()
    return ax


def plot_residuals(residuals: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Relative residuals of the fit per step: a pattern means the model misses."""
    ax = ax or plt.subplots(figsize=(8, 3))[1]
    if residuals.empty:
        ax.set_title("Residuals: no fit")
        return ax
    ax.axhline(0, color="grey", linewidth=1)
    ax.plot(residuals["users"], 100 * residuals["relative"], "o")
    ax.set(
        xlabel="users (concurrency N)",
        ylabel="% of fitted",
        title="Residuals of the USL fit",
    )
    return ax
