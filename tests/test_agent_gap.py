"""The amphora agent stops mid-run: the run goes on, the gap is stored and reported.

Root and the agent's virtualenv are needed (``make test`` installs it as
root). The agent is stopped as an operator or a crash would stop it: SIGTERM
to the gunicorn master's PID from the manifest, never by name.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from octperf import analysis, api
from octperf.store import RunDir, open_run
from octperf.testbed._agent import AMPHORA_NAMESPACE
from tests.agent.conftest import namespaces, skip_reason
from tests.helpers import assert_gone, small_profile

pytestmark = pytest.mark.slow

AGENT_ROLE = "amphora-agent"
LOAD_S = 12
# Under load before the stop: time for an agent sample (one every ~2 s).
BEFORE_STOP_S = 3.0
WAIT_S = 120.0


@dataclass
class StoppedRun:
    """The finished run, when the agent was stopped, and what it left."""

    report: api.RunReport
    run: RunDir
    stopped_at: float
    agent_pid: int
    namespaces_before: set[str]


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> StoppedRun:
    """A 12 s amphora run whose agent gets SIGTERM 3 s into the load."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    before = namespaces()
    if AMPHORA_NAMESPACE in before:
        pytest.fail(f"{AMPHORA_NAMESPACE} exists: another amphora test is running")
    base = tmp_path_factory.mktemp("agent-gap")
    profile = small_profile("agent-gap", testbed="amphora", load={"duration_s": LOAD_S})
    outcome: dict[str, Any] = {}
    runner = threading.Thread(
        target=_run, args=(profile, base, outcome), name="agent-gap-run", daemon=True
    )
    runner.start()
    manifest = _wait_for_load(base / "data", runner)
    _wait_for_requests(base / "data", runner)
    time.sleep(BEFORE_STOP_S)
    pid = _agent_pid(manifest)
    stopped_at = time.time()
    os.kill(pid, signal.SIGTERM)  # the gunicorn master only: it stops its workers
    runner.join(WAIT_S)
    assert not runner.is_alive(), f"the run did not end within {WAIT_S} s"
    if "error" in outcome:
        raise outcome["error"]
    finished = outcome["report"]
    return StoppedRun(finished, open_run(finished.run_dir), stopped_at, pid, before)


def test_the_run_completes_without_the_agent(stopped: StoppedRun) -> None:
    """Status complete, and Locust and HAProxy still agree within 1 %."""
    summary = stopped.report.summary
    assert summary["status"] == "complete"
    requests = summary["requests"]
    client, haproxy = requests["client"]["total"], requests["haproxy"]["req_tot"]
    assert client > 50
    assert abs(haproxy - client) <= 0.01 * client


def test_the_gap_is_stored_with_the_agents_url(stopped: StoppedRun) -> None:
    """Rows of collector amphora_agent after the stop, naming the agent's URL."""
    url = stopped.run.manifest()["bed"]["agent"]["url"]
    gaps = stopped.run.read_table("gaps")
    agent_gaps = gaps[gaps["collector"] == "amphora_agent"]

    assert len(agent_gaps) >= 2, gaps.to_string()
    # A sample begun just before the SIGTERM may fail too.
    assert agent_gaps["ts"].min() >= stopped.stopped_at - 1.0
    assert all(url in reason for reason in agent_gaps["reason"])
    assert set(agent_gaps["error"]) == {"CollectorError"}
    answered = stopped.run.read_table("amphora_agent")
    load_start = stopped.run.manifest()["load"]["started_at"]
    under_load = answered["ts"].between(load_start, stopped.stopped_at)
    assert under_load.sum() >= 1, answered["ts"].tolist()
    assert (answered["ts"] > stopped.stopped_at + 1).sum() == 0


def test_the_report_shows_the_gap(stopped: StoppedRun) -> None:
    """Gaps and events lists the agent's gap, once, with its reason."""
    assert stopped.report.report is not None
    page = stopped.report.report.read_text(encoding="utf-8")
    section = re.search(r"<h2[^>]*>Gaps and events<.*?<h2", page, re.DOTALL)
    assert section is not None
    gaps = stopped.run.read_table("gaps")
    reason = gaps.loc[gaps["collector"] == "amphora_agent", "reason"].iloc[0]

    spans = analysis.gaps(stopped.run)
    spans = spans[spans["collector"] == "amphora_agent"]

    # The agent never came back: its failures are one gap to the end.
    assert len(spans) == 1 and spans["samples"].iloc[0] >= 2
    assert section.group().count("<td>amphora_agent</td>") == 1
    assert html.escape(f"CollectorError: {reason}", quote=False) in section.group()


def test_nothing_is_left_after_the_run(stopped: StoppedRun) -> None:
    """No namespace of the bed, no process of the manifest."""
    manifest = stopped.run.manifest()
    pids = [p["pid"] for p in manifest["bed"]["processes"]]
    pids += [p["pid"] for p in manifest["load"]["processes"]]

    assert stopped.agent_pid in pids
    assert namespaces() == stopped.namespaces_before
    assert_gone(pids)


def _run(profile: Any, base: Path, outcome: dict[str, Any]) -> None:
    """``api.run`` in the thread; its result or its exception in ``outcome``."""
    try:
        outcome["report"] = api.run(profile, base / "data", base / "reports")
    except BaseException as error:  # re-raised in the test's thread
        outcome["error"] = error


def _wait_for_load(data_dir: Path, runner: threading.Thread) -> dict[str, Any]:
    """The run's manifest once it records the load's start."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and runner.is_alive():
        for path in data_dir.glob("runs/*/manifest.json"):
            manifest = _read(path)
            if (manifest.get("load") or {}).get("started_at"):
                return manifest
        time.sleep(0.2)
    raise AssertionError(f"no run under {data_dir} started its load")


def _wait_for_requests(data_dir: Path, runner: threading.Thread) -> None:
    """Until Locust's table shows responses: its workers can take seconds to start."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and runner.is_alive():
        for path in data_dir.glob("runs/*/tables/locust.csv"):
            rows = path.read_text(encoding="utf-8").splitlines()[1:]
            if any(int(row.split(",")[1] or 0) > 0 for row in rows if "," in row):
                return
        time.sleep(0.2)
    raise AssertionError(f"no response reached Locust's table under {data_dir}")


def _read(path: Path) -> dict[str, Any]:
    """The manifest, or nothing while it is being rewritten."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _agent_pid(manifest: dict[str, Any]) -> int:
    processes = manifest["bed"]["processes"]
    pids = [p["pid"] for p in processes if p["role"] == AGENT_ROLE]
    assert len(pids) == 1, processes
    return pids[0]
