"""Removing what a crashed run left: processes, namespaces, guard routes.

A run whose octperf process died (SIGKILL, a power cut of the terminal)
leaves its manifest at ``running`` with a ``runner_pid`` that is gone. Its
manifest names every process the bed and the load started, and an amphora
bed's ledger (``bed/network.json``) every namespace and route it made.
Processes are stopped only when they are still the ones recorded: a process
group leader with the recorded PID, started before the manifest was last
written, running one of the programs a bed runs. A namespace holding a
process newer than that belongs to another bed (the names are fixed) and is
left alone. Processes started while octperf was being killed during bed-up,
before the manifest recorded them, are not found.
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
from pathlib import Path

import psutil

from octperf.store import open_run
from octperf.testbed import _netns

log = logging.getLogger(__name__)

# Programs a bed or a load starts (matched in the whole command line: Locust
# runs as "python -m locust", the agent under "unshare"); anything else
# under a recorded PID is not ours.
OUR_PROGRAMS = ("haproxy", "nginx", "locust", "amphora-agent")


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
    last_write = (run_dir / "manifest.json").stat().st_mtime
    done = [f"stopped {what}" for what in _stop_processes(manifest, last_write)]
    for ledger in _ledgers(run_dir):
        done += _clean_ledger(ledger, last_write)
    runtime = _runtime_dir(manifest)
    if runtime is not None:
        shutil.rmtree(runtime, ignore_errors=True)
        done.append(f"removed {runtime}")
    _mark_incomplete(run_dir)
    return done


def _clean_ledger(ledger: Path, last_write: float) -> list[str]:
    inside = _namespace_pids(ledger)
    if any(_started_after(pid, last_write) for pid in inside):
        return [f"kept {ledger}: its namespaces now hold a newer bed"]
    for pid in inside:
        _kill_group(pid)
    done = [f"stopped pid {pid} in a bed namespace" for pid in inside]
    removed = _netns.undo_ledger(ledger)
    return [*done, f"removed {removed} namespaces and routes listed in {ledger}"]


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


def _stop_processes(manifest: dict, last_write: float) -> list[str]:
    recorded = [
        *manifest.get("bed", {}).get("processes", []),
        *manifest.get("load", {}).get("processes", []),
    ]
    stopped = []
    for entry in recorded:
        if _ours(entry["pid"], last_write):
            _kill_group(entry["pid"])
            stopped.append(f"{entry['role']} (pid {entry['pid']})")
    return stopped


def _ours(pid: int, last_write: float) -> bool:
    """Whether process group ``pid`` is still one octperf started.

    octperf starts each process in its own session, so the recorded PID is
    a group leader; the group counts as ours when one of its members runs
    one of our programs and started before the manifest was last written
    (a PID reused later is newer). The leader itself may be gone while its
    children live on (the agent's gunicorn under unshare).
    """
    for member in _group(pid):
        try:
            command = " ".join(member.cmdline())
            before = member.create_time() <= last_write + 1
        except psutil.Error:
            continue
        if before and any(program in command for program in OUR_PROGRAMS):
            return True
    return False


def _group(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(process.pid) == pgid:
                members.append(process)
    return members


def _started_after(pid: int, moment: float) -> bool:
    try:
        return psutil.Process(pid).create_time() > moment + 1
    except psutil.Error:
        return False


def _namespace_pids(ledger: Path) -> list[int]:
    """PIDs running in the ledger's namespaces (bed names are fixed: check age)."""
    try:
        items = json.loads(ledger.read_text())
    except (OSError, ValueError):
        return []
    pids: list[int] = []
    for item in items:
        if item.get("kind") == "netns":
            pids += _netns_pids(item["name"])
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
        os.killpg(pid, signal.SIGKILL)


def _mark_incomplete(run_dir: Path) -> None:
    run = open_run(run_dir)
    run.add_event("cleaned", "its runner had died; octperf down --force cleaned up")
    run.update_manifest(status="incomplete")


def _alive(pid: object) -> bool:
    return isinstance(pid, int) and psutil.pid_exists(pid)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
