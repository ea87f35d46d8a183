"""What octperf adds to Locust, running inside the master and worker processes.

Only ``locust/locustfile.py`` imports this module: importing Locust patches
the standard library for gevent, which the octperf process must not have.

Workers record every response in per-second HdrHistograms
(``_histograms.SecondRecorder``) and hand finished seconds over inside
Locust's own ``stats`` message (the ``report_to_master`` event), so the
master receives a second together with Locust's counters for the same
requests. The master merges them and appends rows while the test runs.

Why the last seconds arrive (locust/runners.py, 2.47): at ``-t`` or SIGTERM
the master calls ``MasterRunner.quit()``, which fires ``test_stopping``,
sends ``quit`` to the workers, sleeps 0.5 s and then stops receiving. A
worker stops its users on ``quit`` (up to ``--stop-timeout``) before sending
its final report, which can miss that 0.5 s. So on ``test_stopping`` the
master first asks every worker to stop its users and report at once
(``octperf_stop``), and waits for each worker's final report, bounded by
``--stop-timeout`` plus a grace, before Locust's quit goes on.

The result JSON (``OCTPERF_LOCUST_RESULT``), format history:

1. First version.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import gevent
import locust
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_STOPPED, MasterRunner, WorkerRunner

from octperf._atomic import write_json
from octperf.load._env import FINAL_REPORT_GRACE_S, LocustSettings
from octperf.load._histograms import (
    LOCUST_COLUMNS,
    LOCUST_HDR_COLUMNS,
    Second,
    SecondMerger,
    SecondRecorder,
    encode,
    hdr_row,
    locust_row,
    percentiles_ms,
)
from octperf.store import TableWriter

log = logging.getLogger(__name__)

RESULT_FORMAT_VERSION = 1
STOP_MESSAGE = "octperf_stop"
REPORT_KEY = "octperf"

# Set on a worker when the master stops the test. Locust's master keeps
# sending the spawn messages of a ramp-up still under way after it stopped
# (MasterRunner.stop does not end the dispatch loop of MasterRunner.start),
# so users may start after the stop: they must leave without a request.
_STOPPED = threading.Event()


def stopped() -> bool:
    """True on a worker once the master has stopped the test."""
    return _STOPPED.is_set()


def attach(environment: Environment, settings: LocustSettings) -> None:
    """Wire octperf's recording into this Locust process (from ``init``)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        _Master(environment, runner, settings)
    elif isinstance(runner, WorkerRunner):
        _Worker(environment, runner)
    else:
        log.warning("octperf records histograms only with --master and --worker")


class _Worker:
    """Records responses per second and hands finished seconds to the master."""

    def __init__(self, environment: Environment, runner: WorkerRunner) -> None:
        self._environment = environment
        self._runner = runner
        self._recorder = SecondRecorder()
        events = environment.events
        events.request.add_listener(self._on_request)
        events.test_start.add_listener(self._on_test_start)
        events.report_to_master.add_listener(self._on_report_to_master)
        runner.register_message(STOP_MESSAGE, self._on_stop_message)

    def _on_request(
        self, response_time: float, exception: Any = None, **_: Any
    ) -> None:
        self._recorder.record(response_time, failed=exception is not None)

    def _on_test_start(self, **_: Any) -> None:
        # Locust clears its own stats at the same moment (WorkerRunner "spawn").
        self._recorder.reset()

    def _on_report_to_master(self, data: dict[str, Any], **_: Any) -> None:
        final = self._runner.state == STATE_STOPPED
        data[REPORT_KEY] = self._recorder.take(final=final)

    def _on_stop_message(self, **_: Any) -> None:
        # Users finish the request in flight (up to --stop-timeout), then the
        # final report leaves at once, in the same form as Locust's own one.
        _STOPPED.set()
        self._runner.stop()
        data: dict[str, Any] = {}
        self._environment.events.report_to_master.fire(
            client_id=self._runner.client_id, data=data
        )
        self._runner.send_message("stats", data)


class _Master:
    """Merges workers' seconds, appends table rows, writes the result."""

    def __init__(
        self, environment: Environment, runner: MasterRunner, settings: LocustSettings
    ) -> None:
        self._environment = environment
        self._runner = runner
        self._settings = settings
        self._merger = SecondMerger()
        self._tables = _Tables(settings.tables_dir)
        self._workers_seen: set[str] = set()
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._no_final_report: list[str] = []
        events = environment.events
        events.test_start.add_listener(self._on_test_start)
        events.worker_connect.add_listener(self._on_worker_connect)
        events.worker_report.add_listener(self._on_worker_report)
        events.test_stopping.add_listener(self._on_test_stopping)
        events.quit.add_listener(self._on_quit)

    def _on_test_start(self, **_: Any) -> None:
        self._started_at = time.time()
        self._merger.begin(self._started_at)

    def _on_worker_connect(self, client_id: str, **_: Any) -> None:
        self._workers_seen.add(client_id)

    def _on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        report = data.get(REPORT_KEY)
        if report is None:
            log.warning("worker %s sent no octperf histograms", client_id)
            return
        self._workers_seen.add(client_id)
        self._merger.add(client_id, report)
        self._tables.append(self._merger.release(self._live_workers()))

    def _on_test_stopping(self, **_: Any) -> None:
        for worker in self._live_workers():
            self._runner.send_message(STOP_MESSAGE, client_id=worker)
        self._await_final_reports()
        self._ended_at = time.time()

    def _await_final_reports(self) -> None:
        stop_timeout = float(self._environment.stop_timeout or 0)
        deadline = time.monotonic() + stop_timeout + FINAL_REPORT_GRACE_S
        while waiting := self._workers_not_final():
            if time.monotonic() > deadline:
                log.warning("no final report from %s: last seconds lost", waiting)
                self._no_final_report = waiting
                return
            gevent.sleep(0.05)
        log.info("final reports received from all workers")

    def _workers_not_final(self) -> list[str]:
        return [w for w in self._live_workers() if not self._merger.is_final(w)]

    def _live_workers(self) -> list[str]:
        return [c.id for c in self._runner.clients.all if c.state != STATE_MISSING]

    def _on_quit(self, exit_code: int, **_: Any) -> None:
        self._tables.append(self._merger.release_all())
        self._tables.close()
        if self._settings.result_path is None:
            log.warning("OCTPERF_LOCUST_RESULT is not set; no result written")
            return
        write_json(self._settings.result_path, self._result(exit_code))
        log.info("result written to %s", self._settings.result_path)

    def _result(self, exit_code: int) -> dict[str, Any]:
        options = self._environment.parsed_options
        stats = self._environment.stats.total
        total = self._merger.total
        latency = percentiles_ms(total.histogram)
        return {
            "format_version": RESULT_FORMAT_VERSION,
            "locust_version": locust.__version__,
            "exit_code": exit_code,
            "workers": len(self._workers_seen),
            "workers_expected": getattr(options, "expect_workers", None),
            "users": getattr(options, "num_users", None),
            "spawn_rate": getattr(options, "spawn_rate", None),
            "run_time_s": getattr(options, "run_time", None),
            "host": self._environment.host,
            "object_path": self._settings.object_path,
            "keep_alive": self._settings.keep_alive,
            "think_time_s": self._settings.think_time_s,
            "started_at": self._started_at,
            "ended_at": self._ended_at,
            "first_second": self._tables.first_ts,
            "last_second": self._tables.last_ts,
            "requests": stats.num_requests,
            "failures": stats.num_failures,
            "successes": stats.num_requests - stats.num_failures,
            "hdr_requests": total.histogram.get_total_count(),
            "hdr_failures": total.failures,
            "late_rows": self._merger.late_rows,
            "workers_without_final_report": self._no_final_report,
            "worker_cpu_warning": self._runner.worker_cpu_warning_emitted,
            **{f"latency_{name}_ms": value for name, value in latency.items()},
            "hdr": encode(total.histogram),
        }


class _Tables:
    """The ``locust`` and ``locust_hdr`` tables, or nothing when no directory."""

    def __init__(self, directory: Path | None) -> None:
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self._writers: list[TableWriter] = []
        if directory is None:
            log.warning("OCTPERF_TABLES_DIR is not set: no per-second rows")
            return
        self._locust = TableWriter(directory / "locust.csv", LOCUST_COLUMNS)
        self._hdr = TableWriter(directory / "locust_hdr.csv", LOCUST_HDR_COLUMNS)
        self._writers = [self._locust, self._hdr]

    def append(self, seconds: list[tuple[int, Second]]) -> None:
        if not seconds:
            return
        busy = [ts for ts, second in seconds if second.histogram.get_total_count()]
        if busy:
            low, high = min(busy), max(busy)
            if self.first_ts is not None and self.last_ts is not None:
                low, high = min(low, self.first_ts), max(high, self.last_ts)
            self.first_ts, self.last_ts = low, high
        if self._writers:
            self._locust.append(locust_row(ts, second) for ts, second in seconds)
            self._hdr.append(hdr_row(ts, second) for ts, second in seconds)

    def close(self) -> None:
        for writer in self._writers:
            writer.close()
