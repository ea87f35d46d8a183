"""The load: a headless Locust master and its workers, bounded in time.

    load = LocustLoad(profile, "http://127.0.0.1:8080", run)
    load.start()
    result = load.wait()      # LoadResult; LoadError when Locust broke down
    load.stop()               # idempotent; wait() calls it too

Each Locust process runs in its own process group with its log under the
run's ``logs/``. The master appends the ``locust`` and ``locust_hdr`` tables
while the test runs and writes ``locust/result.json`` when it ends (see
docs/run-directory.md). Failed requests are data, not errors: Locust then
exits 1 and ``wait()`` still returns the result.

This module never imports Locust: Locust patches the standard library for
gevent on import, which the octperf process must not have.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from octperf._paths import REPO
from octperf._process import ManagedProcess, start
from octperf.errors import LoadError, TestbedError
from octperf.load._env import FINAL_REPORT_GRACE_S, LocustSettings
from octperf.profile import Profile
from octperf.store import RunDir

__all__ = ["LoadResult", "LocustLoad", "default_locustfile"]

log = logging.getLogger(__name__)

MASTER_ROLE = "locust-master"
STOP_TIMEOUT_S = 10.0
"""Locust's --stop-timeout: how long users may finish the request in flight."""
EXPECT_WORKERS_MAX_WAIT_S = 60
LOCUST_EXIT_FAILURES = 1  # Locust's --exit-code-on-error default


def default_locustfile() -> Path:
    """``locust/locustfile.py`` of the repository this package is installed from."""
    return REPO / "locust" / "locustfile.py"


@dataclass(frozen=True)
class LoadResult:
    """What the Locust master wrote when the test ended (``locust/result.json``).

    Counts cover all workers. ``requests`` and ``failures`` are Locust's own
    totals, ``hdr_requests`` the count of the merged histograms; the two
    agree unless a worker's final report was lost. Latencies are in
    milliseconds, None when nothing was recorded. Times are Unix seconds.
    """

    path: Path
    format_version: int
    locust_version: str
    exit_code: int
    workers: int
    requests: int
    failures: int
    successes: int
    hdr_requests: int
    hdr_failures: int
    late_rows: int
    started_at: float | None
    ended_at: float | None
    first_second: int | None
    last_second: int | None
    latency_mean_ms: float | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    latency_p99_ms: float | None
    latency_p999_ms: float | None
    latency_max_ms: float | None
    worker_cpu_warning: bool
    hdr: str
    data: dict[str, Any] = dataclasses.field(repr=False)
    """The whole JSON document, including fields not listed here."""

    @classmethod
    def read(cls, path: Path) -> LoadResult:
        """Load a result file; raises LoadError if it is missing or malformed."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            known = {f.name for f in dataclasses.fields(cls)} - {"path", "data"}
            return cls(path=path, data=data, **{k: data[k] for k in known})
        except (OSError, ValueError, KeyError, TypeError) as error:
            message = f"Locust result {path} is missing or malformed: {error!r}"
            raise LoadError(message) from None

    def histogram(self) -> HdrHistogram:
        """The merged histogram of the whole run (response times in µs)."""
        return HdrHistogram.decode(self.hdr)


class LocustLoad:
    """A headless Locust master and ``workers`` worker processes for one run.

    ``workers`` defaults to the profile's ``load.workers``, else one per CPU
    core. Environment variables ``LOCUST_*`` of this process are not passed
    on, so a run depends only on the profile. ``exec_prefix`` places every
    Locust process (``ip netns exec NS`` on the amphora bed).
    """

    def __init__(
        self,
        profile: Profile,
        target_url: str,
        run_dir: RunDir,
        *,
        locustfile: Path | None = None,
        workers: int | None = None,
        stop_timeout_s: float = STOP_TIMEOUT_S,
        exec_prefix: Sequence[str] = (),
    ) -> None:
        self.profile = profile
        self.exec_prefix = list(exec_prefix)
        self.target_url = target_url
        self.run_dir = run_dir
        self.locustfile = Path(locustfile or default_locustfile()).resolve()
        self.workers = workers or profile.load.workers or os.cpu_count() or 1
        self.stop_timeout_s = stop_timeout_s
        self.result_path = run_dir.subdir("locust") / "result.json"
        self._master: ManagedProcess | None = None
        self._workers: list[ManagedProcess] = []
        self._stopped: set[int] = set()

    @staticmethod
    def version() -> str:
        """Locust's version as installed (read without importing Locust)."""
        return metadata.version("locust")

    def start(self) -> None:
        """Start the master, then the workers; the test begins when all joined."""
        if self._master is not None:
            raise LoadError("this LocustLoad was already started; make a new one")
        if not self.locustfile.is_file():
            raise LoadError(f"locustfile {self.locustfile} not found; pass locustfile=")
        port = _free_port()
        env = self._environment()
        self._master = self._start(MASTER_ROLE, self._master_argv(port), env)
        for number in range(1, self.workers + 1):
            role = f"locust-worker-{number}"
            self._workers.append(self._start(role, self._worker_argv(port), env))
        self._log_start()

    def wait(self, timeout_s: float | None = None) -> LoadResult:
        """Wait for Locust to finish, stop what is left, return its result.

        ``timeout_s`` defaults to the run time plus the stop and start-up
        allowances; past it everything is stopped and LoadError raised, as
        when the master fails or writes no result.
        """
        master = self._started_master()
        limit = self._default_timeout_s() if timeout_s is None else timeout_s
        if not self._await_exit([master], limit):
            self.stop()
            raise LoadError(
                f"Locust did not finish within {limit:.0f} s; stopped it. "
                f"Master log: {master.log_tail()} ({master.log_path})"
            )
        self._await_exit(self._workers, 5.0)
        self.stop()
        return self._result(master)

    def stop(self) -> None:
        """Stop the master (it collects the workers' last seconds), then workers."""
        if self._master is not None:
            grace = self.stop_timeout_s + FINAL_REPORT_GRACE_S + 5.0
            self._stop(self._master, grace)
        for worker in self._workers:
            self._stop(worker, 5.0)

    def processes(self) -> dict[str, int]:
        """PIDs by role (``locust-master``, ``locust-worker-1``, …)."""
        started = [self._master] if self._master else []
        return {p.role: p.pid for p in started + self._workers}

    def __enter__(self) -> LocustLoad:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # internals ------------------------------------------------------------

    def _start(self, role: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        log_path = self.run_dir.subdir("logs") / f"{role}.log"
        # Locust reads ./locust.conf if there is one: run where there is none.
        cwd = self.result_path.parent
        try:
            return start(role, argv, log_path, env=env, cwd=cwd)
        except TestbedError as error:
            self.stop()
            raise LoadError(str(error)) from error

    def _log_start(self) -> None:
        load = self.profile.load
        if load.users / load.spawn_rate > load.duration_s:
            log.warning(
                "spawning %s users at %s/s outlasts the %s s run: not all will start",
                load.users,
                load.spawn_rate,
                load.duration_s,
            )
        log.info(
            "load started: %s users, %s workers, %s s against %s",
            load.users,
            self.workers,
            self._run_time_s(),
            self.target_url,
        )

    def _stop(self, process: ManagedProcess, grace_s: float) -> None:
        if process.pid in self._stopped:
            return
        self._stopped.add(process.pid)
        code = process.stop(grace_s)
        log.debug("%s (pid %s) stopped with code %s", process.role, process.pid, code)

    def _started_master(self) -> ManagedProcess:
        if self._master is None:
            raise LoadError("LocustLoad.wait() called before start()")
        return self._master

    def _result(self, master: ManagedProcess) -> LoadResult:
        code = master.popen.returncode
        where = f"master log: {master.log_tail()} ({master.log_path})"
        if code not in (0, LOCUST_EXIT_FAILURES):
            raise LoadError(f"Locust master exited with code {code}; {where}")
        if not self.result_path.is_file():
            raise LoadError(f"Locust master exited ({code}) without a result; {where}")
        result = LoadResult.read(self.result_path)
        log.info(
            "load done: %s requests, %s failed, p99 %s ms",
            result.requests,
            result.failures,
            result.latency_p99_ms,
        )
        return result

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        scenario = self.profile.scenario
        settings = LocustSettings(
            object_path=self.profile.object_path(),
            keep_alive=scenario.keep_alive,
            think_time_s=scenario.think_time_s,
            tables_dir=self.run_dir.tables_dir,
            result_path=self.result_path,
        )
        env.update(settings.to_env())
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _master_argv(self, port: int) -> list[str]:
        load = self.profile.load
        return [
            *self._locust_argv(),
            "--master",
            "--master-bind-host=127.0.0.1",
            f"--master-bind-port={port}",
            f"--expect-workers={self.workers}",
            f"--expect-workers-max-wait={EXPECT_WORKERS_MAX_WAIT_S}",
            "--headless",
            "--only-summary",
            f"--users={load.users}",
            f"--spawn-rate={load.spawn_rate}",
            f"--run-time={self._run_time_s()}s",
            f"--stop-timeout={math.ceil(self.stop_timeout_s)}s",
            f"--host={self.target_url}",
        ]

    def _worker_argv(self, port: int) -> list[str]:
        return [
            *self._locust_argv(),
            "--worker",
            "--master-host=127.0.0.1",
            f"--master-port={port}",
        ]

    def _locust_argv(self) -> list[str]:
        locust = [sys.executable, "-m", "locust", f"--locustfile={self.locustfile}"]
        return [*self.exec_prefix, *locust]

    def _run_time_s(self) -> int:
        # Locust takes whole seconds (locust/util/timespan.py).
        return max(1, math.ceil(self.profile.load.duration_s))

    def _default_timeout_s(self) -> float:
        stopping = self.stop_timeout_s + FINAL_REPORT_GRACE_S
        return EXPECT_WORKERS_MAX_WAIT_S + self._run_time_s() + stopping + 30.0

    @staticmethod
    def _await_exit(processes: list[ManagedProcess], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while any(p.alive() for p in processes):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
