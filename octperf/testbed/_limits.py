"""Sizing HAProxy's maxconn to the open-files limit of this machine.

HAProxy derives the descriptors it needs from the global maxconn: two per
connection (client side and server side), plus, because Octavia's defaults
enable splicing, maxconn/4 pipes of two descriptors each, plus listeners,
checks and the stats socket (HAProxy 2.6 asks 22528 for maxconn 9000).
When that exceeds the hard RLIMIT_NOFILE it refuses to start ("Cannot raise
FD limit"), so we size maxconn before rendering.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

from octperf.errors import EnvironmentProblem
from octperf.profile import OCTAVIA_DEFAULT_MAXCONN

# Descriptors kept free for listeners, health checks, sockets and logs
# (HAProxy 2.6 asked 28 beyond 2.5 per connection for one listener).
RESERVED_FDS = 200

# Below this a bed would measure its own limit, not HAProxy's.
MIN_MAXCONN = 256

# Two sockets per connection and half a descriptor for splice pipes.
FDS_PER_CONNECTION = 2.5


@dataclass(frozen=True)
class MaxconnSizing:
    """The maxconn rendered and, when it differs from the request, why."""

    maxconn: int
    note: str | None


def open_files_limits() -> tuple[int, int]:
    """The soft and hard RLIMIT_NOFILE of this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinite = resource.RLIM_INFINITY
    return (
        soft if soft != infinite else 1 << 20,
        hard if hard != infinite else 1 << 20,
    )


def allowed_maxconn(hard_limit: int) -> int:
    """The largest maxconn whose descriptors fit under ``hard_limit``."""
    return max(int((hard_limit - RESERVED_FDS) / FDS_PER_CONNECTION), 0)


def size_maxconn(connection_limit: int, hard_limit: int) -> MaxconnSizing:
    """Choose maxconn for a listener's ``connection_limit`` (-1: unlimited).

    An unlimited listener gets Octavia's 50000, lowered to what the machine
    allows with a note saying so. An explicit limit the machine cannot honour
    is refused, since silently lowering it would change the experiment.
    """
    allowed = allowed_maxconn(hard_limit)
    if allowed < MIN_MAXCONN:
        raise EnvironmentProblem(
            f"this machine's open-files hard limit is {hard_limit}, enough for "
            f"maxconn {allowed} only: raise it (ulimit -Hn as root, "
            "/etc/security/limits.conf) to at least "
            f"{int(MIN_MAXCONN * FDS_PER_CONNECTION) + RESERVED_FDS}"
        )
    if connection_limit == -1:
        if allowed >= OCTAVIA_DEFAULT_MAXCONN:
            return MaxconnSizing(OCTAVIA_DEFAULT_MAXCONN, None)
        return MaxconnSizing(allowed, _lowered_note(hard_limit, allowed))
    if connection_limit > allowed:
        needed = int(FDS_PER_CONNECTION * connection_limit) + RESERVED_FDS
        raise EnvironmentProblem(
            f"listener.connection_limit {connection_limit} needs about {needed} "
            f"open files but this machine's hard limit is {hard_limit}: set "
            f"connection_limit to at most {allowed}, or raise the hard limit "
            "(ulimit -Hn as root, /etc/security/limits.conf)"
        )
    return MaxconnSizing(connection_limit, None)


def _lowered_note(hard_limit: int, allowed: int) -> str:
    return (
        f"Octavia renders maxconn {OCTAVIA_DEFAULT_MAXCONN} for an unlimited "
        f"listener; this machine's open-files hard limit is {hard_limit}, so "
        f"maxconn is {allowed} ({FDS_PER_CONNECTION} descriptors per connection "
        f"with splicing, {RESERVED_FDS} kept free)"
    )
