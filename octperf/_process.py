"""Processes octperf starts: each in its own session, stopped by process group.

Nothing here looks processes up by name: a process is known by the PID
returned when it was started, and stopped by signalling its process group,
so children (nginx workers, Locust greenlet helpers) go with it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from octperf.errors import TestbedError

log = logging.getLogger(__name__)


@dataclass
class ManagedProcess:
    """A started process and its role in the run ("haproxy", "member-1", ...)."""

    role: str
    popen: subprocess.Popen
    log_path: Path
    argv: list[str] = field(default_factory=list)
    stopped: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace_s: float = 5.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``grace_s``; reap it.

        Safe to call twice: the group is signalled only during the first
        call (a last SIGKILL right after reaping takes stray children), so a
        PID reused later is never touched.
        """
        if self.stopped:
            return self.popen.returncode
        self.stopped = True
        if self.alive():
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %s) ignored SIGTERM; killing", self.role, self.pid)
                _signal_group(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=grace_s)
        # The leader may be gone while children of its group linger.
        _signal_group(self.pid, signal.SIGKILL)
        return self.popen.returncode

    def log_tail(self, lines: int = 5) -> str:
        """The last lines the process wrote to its log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])


def start(
    role: str,
    argv: Sequence[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    """Start ``argv`` in a new session, stdout and stderr to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as sink:
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=cwd,
            )
        except OSError as error:
            raise TestbedError(f"cannot start {role} ({argv[0]}): {error}") from None
    log.debug("started %s pid %s: %s", role, popen.pid, " ".join(argv))
    return ManagedProcess(role, popen, log_path, list(argv))


def wait_until(check, timeout_s: float, what: str, process: ManagedProcess | None):
    """Poll ``check()`` until it returns truthy; raise TestbedError on timeout.

    If ``process`` dies while waiting, fail at once with its last log lines.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if process is not None and not process.alive():
            raise TestbedError(
                f"{process.role} exited with code {process.popen.returncode} "
                f"before {what}: {process.log_tail()} (log: {process.log_path})"
            )
        if time.monotonic() > deadline:
            raise TestbedError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
