"""The highest throughput a sweep sustains within a latency and failure objective."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from octperf.analysis._steps import require
from octperf.errors import AnalysisError

FAILURE_RATE = "failure rate"

Objectives = dict[str, tuple[str, float]]
"""Objective name to (column, bound): a step meets it when column <= bound."""


@dataclass(frozen=True)
class Headroom:
    """How far the steps go while meeting the objectives, and what stops them.

    ``throughput`` is in the steps' unit (requests per second) and ``users``
    is the concurrency at it; both are linearly interpolated between the
    last passing and the first failing step when that point beats every
    passing step (``interpolated``), and ``None`` when even the first step
    fails. ``breaking_users`` is the users of the first step that breaks an
    objective (``None`` when none does) and ``broken`` names what it
    breaks: ``latency pNN``, ``failure rate``, with `` (no data)`` when the
    value is unknown.
    """

    throughput: float | None
    users: float | None
    interpolated: bool
    breaking_users: float | None
    broken: tuple[str, ...]
    latency_bound_ms: float
    percentile: str
    failure_budget: float

    def sentence(self) -> str:
        """The answer in one sentence, as a report puts it at the top."""
        objectives = (
            f"{self.percentile} <= {self.latency_bound_ms:g} ms "
            f"and failures <= {self.failure_budget * 100:g} %"
        )
        broken = " and ".join(self.broken)
        if self.throughput is None:
            return (
                f"No step meets {objectives}: the first, at "
                f"{self.breaking_users:g} users, breaks {broken}."
            )
        how = ", interpolated" if self.interpolated else ""
        reach = f"{self.throughput:.4g} req/s ({self.users:.4g} users{how})"
        if self.breaking_users is None:
            return f"Every step meets {objectives}; the highest is {reach}."
        return (
            f"Up to {reach} meets {objectives}; "
            f"the step at {self.breaking_users:g} users breaks {broken}."
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields under their names, with the sentence, ready for JSON."""
        return {
            "throughput": self.throughput,
            "users": self.users,
            "interpolated": self.interpolated,
            "breaking_users": self.breaking_users,
            "broken": list(self.broken),
            "latency_bound_ms": self.latency_bound_ms,
            "percentile": self.percentile,
            "failure_budget": self.failure_budget,
            "sentence": self.sentence(),
        }


def highest_sustainable(
    steps: pd.DataFrame,
    latency_bound_ms: float,
    percentile: str = "p99",
    failure_budget: float = 0.01,
) -> Headroom:
    """The highest throughput whose step meets both objectives.

    A step meets them when its ``latency_<percentile>_ms`` is at most
    ``latency_bound_ms`` and its ``failure_rate`` (a fraction) at most
    ``failure_budget``. Steps are taken in order of users; those past the
    first failing step do not count even if they pass again. Unknown
    values fail. Raises AnalysisError for missing columns or no steps.
    """
    if latency_bound_ms <= 0 or not 0 <= failure_budget < 1:
        raise AnalysisError(
            f"headroom: latency bound {latency_bound_ms} ms must be positive and "
            f"failure budget {failure_budget} a fraction in [0, 1)"
        )
    latency = f"latency_{percentile}_ms"
    columns = ["users", "throughput", latency, "failure_rate"]
    table = require(steps, columns, "highest sustainable throughput")
    table = table.reset_index(drop=True)
    objectives: Objectives = {
        f"latency {percentile}": (latency, latency_bound_ms),
        FAILURE_RATE: ("failure_rate", failure_budget),
    }
    met = pd.DataFrame(
        {name: table[column] <= bound for name, (column, bound) in objectives.items()}
    )
    answer = _answer(table, met, objectives)
    return Headroom(
        *answer,
        latency_bound_ms=latency_bound_ms,
        percentile=percentile,
        failure_budget=failure_budget,
    )


def _answer(
    table: pd.DataFrame, met: pd.DataFrame, objectives: Objectives
) -> tuple[float | None, float | None, bool, float | None, tuple[str, ...]]:
    """throughput, users, interpolated, breaking_users, broken."""
    failing = ~met.all(axis=1)
    if not failing.any():
        best = table.loc[table["throughput"].idxmax()]
        return float(best["throughput"]), float(best["users"]), False, None, ()

    first = int(failing.to_numpy().argmax())
    breaking = table.iloc[first]
    broken = _broken(breaking, met.iloc[first], objectives)
    if first == 0:
        return None, None, False, float(breaking["users"]), broken

    passing = table.iloc[:first]
    best = passing.loc[passing["throughput"].idxmax()]
    point = (float(best["throughput"]), float(best["users"]))
    crossing = _crossing(table.iloc[first - 1], breaking, met.iloc[first], objectives)
    interpolated = crossing is not None and crossing[0] > point[0]
    if crossing is not None and interpolated:
        point = crossing
    return *point, interpolated, float(breaking["users"]), broken


def _broken(step: pd.Series, met: pd.Series, objectives: Objectives) -> tuple[str, ...]:
    """The objectives ``step`` fails, marked when its value is unknown."""
    names = []
    for name, (column, _) in objectives.items():
        if not met[name]:
            names.append(name if pd.notna(step[column]) else f"{name} (no data)")
    return tuple(names)


def _crossing(
    last: pd.Series, breaking: pd.Series, met: pd.Series, objectives: Objectives
) -> tuple[float, float] | None:
    """Throughput and users where the first broken objective reaches its bound.

    Linear in users between the last passing and the first failing step;
    ``None`` when a broken value is unknown.
    """
    fractions = []
    for name, (column, bound) in objectives.items():
        if met[name]:
            continue
        below, above = float(last[column]), float(breaking[column])
        fraction = (bound - below) / (above - below)
        if not math.isfinite(fraction):
            return None
        fractions.append(fraction)
    t = min(fractions)
    throughput = last["throughput"] + t * (breaking["throughput"] - last["throughput"])
    users = last["users"] + t * (breaking["users"] - last["users"])
    return float(throughput), float(users)
