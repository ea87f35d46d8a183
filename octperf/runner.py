"""One run: bed up, load and collectors, bed down, summary.

The order matters for honest numbers and clean stops: collectors start
before the load and take a last sample after it; HAProxy's ``req_tot`` is
read right before the load starts and right after it ends, so the client
and HAProxy counts cover the same window. On Ctrl-C the load stops first,
the collectors flush, then the bed goes down; the run is kept, marked
``incomplete``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octperf import __version__
from octperf._host import host_facts, python_version
from octperf.collectors import (
    Collector,
    HAProxyCollector,
    HostCollector,
    ProcessCollector,
    Sampler,
    StatsSocket,
    frontend_counter,
)
from octperf.collectors._throttle import InBackground
from octperf.collectors.amphora import AmphoraAPI, AmphoraCollector
from octperf.collectors.heartbeat import HeartbeatReceiver
from octperf.errors import LoadError
from octperf.load import LoadResult, LocustLoad
from octperf.profile import Profile
from octperf.store import RunDir, create_run
from octperf.testbed import Endpoints, make_bed
from octperf.testbed._endpoints import BedState

log = logging.getLogger(__name__)

# The amphora agent is slow (one synchronous worker, ~100 ms a call).
AGENT_INTERVAL_S = 2.0


@dataclass(frozen=True)
class RunOutcome:
    """Where a finished run is and what it counted."""

    run_dir: Path
    status: str
    summary: dict[str, Any]


@dataclass
class _Window:
    """The load window and HAProxy's request counter at its edges."""

    started_at: float | None = None
    ended_at: float | None = None
    req_tot_before: int | None = None
    req_tot_after: int | None = None
    result: LoadResult | None = None
    collector_errors: dict[str, int] | None = None


def execute(
    profile: Profile,
    data_dir: Path,
    on_load_start: Callable[[float], None] | None = None,
    attached: BedState | None = None,
) -> RunOutcome:
    """Run ``profile`` once and store everything under ``data_dir/runs``.

    ``on_load_start`` is called with the load's duration when Locust starts
    (the CLI shows a progress bar). With ``attached`` the run uses a bed
    that is already up (a sweep's) and leaves it up. The run directory is
    kept whatever happens; its manifest says ``complete``, ``incomplete``
    (interrupted) or ``failed``.
    """
    run = create_run(
        data_dir,
        profile.name,
        profile=profile.model_dump(mode="json"),
        testbed=profile.testbed,
        versions={"octperf": __version__, "python": python_version()},
        host=host_facts(),
    )
    log.info("run %s started", run.path)
    window, status = _Window(), "failed"
    try:
        _run_on_bed(profile, run, window, on_load_start, attached)
        status = "complete"
    except KeyboardInterrupt:
        status = "incomplete"
        run.add_event("interrupted", "stopped by Ctrl-C or SIGTERM before the end")
        raise
    except Exception as error:
        run.add_event("error", f"{type(error).__name__}: {error}")
        raise
    finally:
        run.finish(status)
        summary = _summarise_safely(run, profile, window, status)
        log.info("run %s: %s", status, run.path)
    return RunOutcome(run.path, status, summary)


def _summarise_safely(
    run: RunDir, profile: Profile, window: _Window, status: str
) -> dict[str, Any]:
    # Called while an exception may be on its way out: never replace it.
    try:
        return _summarise(run, profile, window, status)
    except Exception:
        log.exception("could not write %s/summary.json", run.path)
        return {"status": status}


def _run_on_bed(
    profile: Profile,
    run: RunDir,
    window: _Window,
    on_load_start: Callable[[float], None] | None,
    attached: BedState | None,
) -> None:
    if attached is not None:
        _record_bed(run, attached.endpoints, attached.versions)
        _load_with_collectors(profile, run, attached.endpoints, window, on_load_start)
        return
    bed = make_bed(profile, run.path)
    with bed as endpoints:
        _record_bed(run, endpoints, bed.versions())
        _load_with_collectors(profile, run, endpoints, window, on_load_start)


def _record_bed(run: RunDir, endpoints: Endpoints, versions: dict) -> None:
    merged = run.manifest()["versions"] | versions
    run.update_manifest(bed=endpoints.to_manifest(), versions=merged)


def _load_with_collectors(
    profile: Profile,
    run: RunDir,
    endpoints: Endpoints,
    window: _Window,
    on_load_start: Callable[[float], None] | None,
) -> None:
    stats = StatsSocket(endpoints.stats_socket)
    processes = ProcessCollector(dict(endpoints.processes))
    collectors: list[Collector] = [HAProxyCollector(stats), HostCollector(), processes]
    with contextlib.ExitStack() as stack:
        collectors += _amphora_collectors(endpoints, stack)
        sampler = stack.enter_context(
            Sampler(run, collectors, profile.collect.interval_s)
        )
        window.req_tot_before = frontend_counter(stats.show_stat(), endpoints.frontend)
        load = LocustLoad(
            profile, endpoints.vip_url, run, exec_prefix=endpoints.load_prefix
        )
        versions = run.manifest()["versions"] | {"locust": LocustLoad.version()}
        run.update_manifest(versions=versions)
        try:
            _drive(load, profile, run, window, processes, on_load_start)
        finally:
            load.stop()
            window.ended_at = time.time()
            window.req_tot_after = _counter_or_none(stats, endpoints.frontend)
            window.result = window.result or _result_if_written(load)
            run.update_manifest(load=_load_manifest(window, load))
        window.collector_errors = dict(sampler.errors)


def _drive(
    load: LocustLoad,
    profile: Profile,
    run: RunDir,
    window: _Window,
    processes: ProcessCollector,
    on_load_start: Callable[[float], None] | None,
) -> None:
    """Start Locust, let the collectors see its processes, wait for the end."""
    window.started_at = time.time()
    load.start()
    run.update_manifest(load=_load_manifest(window, load))
    for role, pid in load.processes().items():
        processes.add(role, pid)
    if on_load_start is not None:
        on_load_start(profile.load.duration_s)
    # LocustLoad bounds the wait itself: run time, workers joining, stopping.
    window.result = load.wait()


def _amphora_collectors(
    endpoints: Endpoints, stack: contextlib.ExitStack
) -> list[Collector]:
    """The agent's API and heartbeat, on beds that run the amphora agent."""
    found: list[Collector] = []
    if endpoints.agent is not None:
        agent = endpoints.agent
        api = AmphoraAPI(
            agent.url, agent.client_cert, agent.client_key, agent.server_ca
        )
        agent_collector = InBackground(AmphoraCollector(api), AGENT_INTERVAL_S)
        stack.callback(agent_collector.close)
        found.append(agent_collector)
    if endpoints.heartbeat is not None:
        beat = endpoints.heartbeat
        receiver = HeartbeatReceiver(beat.host, beat.port, beat.key)
        found.append(stack.enter_context(receiver))
    return found


def _result_if_written(load: LocustLoad) -> LoadResult | None:
    """Locust's result after an interrupted load: the master writes it on stop."""
    try:
        return LoadResult.read(load.result_path)
    except LoadError:
        return None


def _counter_or_none(stats: StatsSocket, frontend: str) -> int | None:
    # After a failure HAProxy may be gone; the summary then says "unknown".
    try:
        return frontend_counter(stats.show_stat(), frontend)
    except Exception as error:
        log.warning("could not read req_tot after the load: %s", error)
        return None


def _load_manifest(window: _Window, load: LocustLoad) -> dict[str, Any]:
    result = window.result
    return {
        "started_at": result.started_at if result else window.started_at,
        "ended_at": result.ended_at if result else window.ended_at,
        "workers": load.workers,
        "processes": [{"role": r, "pid": p} for r, p in load.processes().items()],
    }


def _summarise(
    run: RunDir, profile: Profile, window: _Window, status: str
) -> dict[str, Any]:
    result = window.result
    client = None
    if result is not None:
        client = {
            "total": result.requests,
            "successes": result.successes,
            "failures": result.failures,
        }
    haproxy_total = _difference(window.req_tot_before, window.req_tot_after)
    if _reloaded_during(run, window):
        # A new HAProxy process counts from zero: after - before means nothing.
        haproxy_total = None
    summary = {
        "status": status,
        "testbed": profile.testbed,
        "duration_s": _duration(window),
        "requests": {
            "client": client,
            "haproxy": {"req_tot": haproxy_total, "frontend": profile.listener_id()},
            "difference_pct": _difference_pct(client, haproxy_total),
        },
        "failures": client["failures"] if client else None,
        "samples": run.table_rows(),
        "collector_errors": window.collector_errors,
    }
    run.write_summary(summary)
    return summary


def _reloaded_during(run: RunDir, window: _Window) -> bool:
    """Whether a HAProxy reload or restart was recorded in the load window."""
    start, end = window.started_at, window.ended_at or time.time()
    events = run.manifest().get("events", [])
    return any(
        event["kind"] == "haproxy_reload"
        and start is not None
        and start <= event["ts"] <= end + 5
        for event in events
    )


def _duration(window: _Window) -> float | None:
    result = window.result
    if result is not None and result.started_at and result.ended_at:
        return round(result.ended_at - result.started_at, 3)
    if window.started_at and window.ended_at:
        return round(window.ended_at - window.started_at, 3)
    return None


def _difference(before: int | None, after: int | None) -> int | None:
    if before is None or after is None or after < before:
        return None  # unknown, or HAProxy restarted in between
    return after - before


def _difference_pct(client: dict | None, haproxy_total: int | None) -> float | None:
    if not client or not client["total"] or haproxy_total is None:
        return None
    return round((haproxy_total - client["total"]) / client["total"] * 100, 3)
