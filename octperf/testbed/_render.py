"""Rendering HAProxy and nginx configurations from ``templates/testbed``.

Every bed renders through here, so a profile gives the same configuration
wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from octperf import __version__
from octperf._paths import shipped
from octperf.profile import Profile

# Octavia's lb_algorithm to HAProxy's balance keyword.
BALANCE = {
    "ROUND_ROBIN": "roundrobin",
    "LEAST_CONNECTIONS": "leastconn",
    "SOURCE_IP": "source",
}


@dataclass(frozen=True)
class Member:
    """One pool member as the templates see it."""

    name: str
    id: str
    address: str
    protocol_port: int
    weight: int = 1


def members_of(profile: Profile) -> list[Member]:
    """The members of the profile's bed, named member-1, member-2, ..."""
    bed = profile.bed()
    return [
        Member(f"member-{n}", member_id, str(address), bed.member_port)
        for n, (member_id, address) in enumerate(
            zip(profile.member_ids(), bed.members, strict=True), start=1
        )
    ]


def render_haproxy(
    profile: Profile, stats_socket: Path, maxconn: int, run_as_root: bool
) -> str:
    """haproxy.cfg for ``profile``; ``maxconn`` as sized for this machine."""
    listener = profile.listener.model_dump() | {
        "id": profile.listener_id(),
        "maxconn": maxconn,
    }
    return (
        _environment()
        .get_template("haproxy.cfg.j2")
        .render(
            loadbalancer_id=profile.loadbalancer_id(),
            octperf_version=__version__,
            run_as_root=run_as_root,
            stats_socket=stats_socket,
            global_maxconn=maxconn,
            nbthread=profile.bed().haproxy_nbthread,
            vip=profile.bed().vip,
            listener=listener,
            pool=_pool(profile),
            members=members_of(profile),
        )
    )


def render_nginx(
    member: Member,
    state_dir: Path,
    document_root: Path,
    health_path: str,
    run_as_root: bool,
) -> str:
    """nginx.conf for one member; one worker, as a small member VM would run."""
    return (
        _environment()
        .get_template("nginx.conf.j2")
        .render(
            octperf_version=__version__,
            member=member,
            state_dir=state_dir,
            document_root=document_root,
            health_path=health_path,
            run_as_root=run_as_root,
            worker_processes=1,
            worker_connections=4096,
            worker_rlimit_nofile=8192,
        )
    )


def _pool(profile: Profile) -> dict:
    pool = profile.pool
    monitor = pool.health_monitor
    check = ""
    if monitor is not None:
        # As Octavia: fall is max_retries_down, rise is max_retries.
        check = (
            f" check inter {monitor.delay}s fall {monitor.max_retries_down}"
            f" rise {monitor.max_retries}"
        )
    return {
        "id": profile.pool_id(),
        "balance": BALANCE[pool.lb_algorithm],
        "health_monitor": monitor,
        "check_options": check,
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(shipped("templates/testbed")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
