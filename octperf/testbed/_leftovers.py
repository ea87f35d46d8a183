"""Removing what a crashed run left: processes, namespaces, guard routes.

A run whose octperf process died (SIGKILL, a power cut of the terminal)
leaves its manifest at ``running`` with a ``runner_pid`` that is gone. Its
manifest names every process the bed and the load started, and an amphora
bed's ledger (``bed/network.json``) every namespace and route it made.
Processes are stopped only when they are still the ones recorded: same PID,
started after the run began, and one of the programs a bed runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

import psutil

from octperf.testbed import _netns

log = logging.getLogger(__name__)

# Programs a bed or a load starts; anything else under a recorded PID is not ours.
OUR_PROGRAMS = ("haproxy", "nginx", "locust", "amphora-agent", "gunicorn", "python")


def leftovers(data_dir: Path) -> list[Path]:
    """Run directories (runs and sweep steps) whose runner died while running."""
    found = []
    patterns = ("runs/*/manifest.json", "sweeps/*/steps/*/runs/*/manifest.json")
    for pattern in patterns:
        for path in sorted(Path(data_dir).glob(pattern)):
            manifest = _read(path)
            if manifest.get("status") == "running" and not _alive(
                manifest.get("runner_pid")
            ):
                found.append(path.parent)
    return found


def clean(run_dir: Path) -> list[str]:
    """Stop a dead run's processes, remove its namespaces and routes; say what."""
    manifest = _read(run_dir / "manifest.json")
    done = [f"stopped {what}" for what in _stop_processes(manifest)]
    for ledger in _ledgers(run_dir):
        done += [
            f"stopped pid {pid} in a bed namespace" for pid in _stop_inside(ledger)
        ]
        removed = _netns.undo_ledger(ledger)
        done.append(f"removed {removed} namespaces and routes listed in {ledger}")
    runtime = _runtime_dir(manifest)
    if runtime is not None:
        shutil.rmtree(runtime, ignore_errors=True)
        done.append(f"removed {runtime}")
    _mark_incomplete(run_dir)
    return done


def _runtime_dir(manifest: dict) -> Path | None:
    """The bed's private temporary directory, found from its stats socket."""
    socket = manifest.get("bed", {}).get("stats_socket")
    if not socket:
        return None
    temporary = Path(tempfile.gettempdir())
    for parent in Path(socket).parents:
        if parent.parent == temporary and parent.name.startswith("octperf-"):
            return parent if parent.is_dir() else None
    return None


def _stop_processes(manifest: dict) -> list[str]:
    started = _timestamp(manifest.get("started_at"))
    recorded = manifest.get("bed", {}).get("processes", [])
    recorded += manifest.get("load", {}).get("processes", [])
    stopped = []
    for entry in recorded:
        if _ours(entry["pid"], started):
            _kill_group(entry["pid"])
            stopped.append(f"{entry['role']} (pid {entry['pid']})")
    return stopped


def _ours(pid: int, started: float | None) -> bool:
    try:
        process = psutil.Process(pid)
        name = " ".join(process.cmdline()[:2]) or process.name()
        fresh = started is None or process.create_time() >= started - 1
    except psutil.Error:
        return False
    return fresh and any(program in name for program in OUR_PROGRAMS)


def _stop_inside(ledger: Path) -> list[int]:
    """PIDs still running in the ledger's namespaces: they can only be ours."""
    try:
        items = json.loads(ledger.read_text())
    except (OSError, ValueError):
        return []
    pids: list[int] = []
    for item in items:
        if item.get("kind") == "netns":
            pids += _netns_pids(item["name"])
    for pid in pids:
        _kill_group(pid)
    return pids


def _netns_pids(namespace: str) -> list[int]:
    done = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    )
    return [int(line) for line in done.stdout.split() if line.isdigit()]


def _ledgers(run_dir: Path) -> list[Path]:
    # A sweep's shared bed keeps its ledger in the sweep directory.
    candidates = [run_dir / "bed" / "network.json"]
    if run_dir.parent.name == "runs" and run_dir.parent.parent.parent.name == "steps":
        candidates.append(run_dir.parents[3] / "bed" / "network.json")
    return [path for path in candidates if path.is_file()]


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgid(pid), signal.SIGKILL)


def _mark_incomplete(run_dir: Path) -> None:
    from octperf.store import open_run

    run = open_run(run_dir)
    run.add_event("cleaned", "its runner had died; octperf down --force cleaned up")
    run.update_manifest(status="incomplete")


def _alive(pid: object) -> bool:
    return isinstance(pid, int) and psutil.pid_exists(pid)


def _timestamp(text: object) -> float | None:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
