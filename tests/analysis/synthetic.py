"""A small synthetic run directory, written exactly as docs/run-directory.md says.

Twenty seconds of load against one listener, one pool of three members.
HAProxy reloads in the middle (its counters restart, its worker gets a new
Pid), one second in five has a slow tail so per-second p99s and the window's
p99 disagree, and every member runs an nginx master with two workers. The
amphora agent's collector fails for a few samples, with two reasons.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from statistics import mean

from hdrh.histogram import HdrHistogram

T0 = 1_800_000_000.0
LOAD_START = T0 + 2
LOAD_END = T0 + 22
SECONDS = range(2, 22)  # offsets of the load's one-second buckets from T0
SLOW_SECONDS = {s for s in SECONDS if s % 5 == 4}
FAILURES = {7: 3, 17: 2}
RELOAD_SAMPLE = 12  # HAProxy counters restart between T0+11 and T0+12
REQ_TOT_BEFORE = 1234
REQ_TOT_AFTER_RELOAD = 40
SAMPLES = range(25)  # HAProxy, process and host samples at T0 + 0 … 24

LISTENER = "5c0d8f0e-6e1f-4b5c-9a51-0a6b8e7c2d10"
POOL = "f2a4b1c8-3d5e-4f60-8a7b-9c0d1e2f3a4b"
MEMBERS = [f"0000000{n}-aaaa-4bbb-8ccc-dddddddddddd" for n in (1, 2, 3)]
SLIM = 100
PEAK_SCUR = 87
PEAK_SAMPLE = 15
PIDS = (4100, 4377)  # HAProxy's worker before and after the reload
# Samples the amphora agent's collector failed, and why.
AGENT_GAPS = {
    5: "agent at https://127.0.0.1:9443 did not answer within 5.0 s",
    6: "agent at https://127.0.0.1:9443 did not answer within 5.0 s",
    7: "agent at https://127.0.0.1:9443 did not answer within 5.0 s",
    8: "agent at https://127.0.0.1:9443 refused the connection",
    18: "agent at https://127.0.0.1:9443 did not answer within 5.0 s",
}
RELOAD_MESSAGE = (
    f"HAProxy restarted or reloaded: Pid {PIDS[0]} -> {PIDS[1]}, Uptime_sec 411 "
    "-> 0; its counters start again from zero"
)


@dataclass
class SyntheticRun:
    """Where the run was written and the raw data behind its tables."""

    path: Path
    requests: dict[int, int] = field(default_factory=dict)
    latencies_us: dict[int, list[int]] = field(default_factory=dict)

    @property
    def client_total(self) -> int:
        return sum(self.requests.values())

    @property
    def haproxy_total(self) -> int:
        """``req_tot`` increase with the reload interval dropped."""
        return self.client_total - self.requests[RELOAD_SAMPLE - 1]


def write_run(base: Path) -> SyntheticRun:
    """Write the run under ``base`` and return it with its raw data."""
    started = datetime.fromtimestamp(T0 - 5, timezone.utc)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-synthetic-a1b2c3"
    run = SyntheticRun(base / run_id)
    rng = random.Random(7)
    for s in SECONDS:
        run.requests[s] = 100 + s
        run.latencies_us[s] = _latencies(rng, run.requests[s], s in SLOW_SECONDS)
    tables = run.path / "tables"
    tables.mkdir(parents=True)
    _csv(tables / "locust.csv", _locust_rows(run))
    _csv(tables / "locust_hdr.csv", _hdr_rows(run))
    _csv(tables / "haproxy_stat.csv", _stat_rows(run))
    _csv(tables / "haproxy_info.csv", _info_rows())
    _csv(tables / "gaps.csv", _gap_rows())
    _csv(tables / "process.csv", _process_rows())
    _csv(tables / "host_cpu.csv", _host_cpu_rows())
    _json(run.path / "manifest.json", _manifest(run_id, started))
    _json(run.path / "summary.json", _summary(run))
    return run


def _latencies(rng: random.Random, count: int, slow: bool) -> list[int]:
    """Response times in µs: 1 to 3 ms, with 10 % at 150 to 250 ms in a slow second."""
    values = [rng.randint(1_000, 3_000) for _ in range(count)]
    if slow:
        for i in range(0, count, 10):
            values[i] = rng.randint(150_000, 250_000)
    return values


def histogram(values: list[int]) -> HdrHistogram:
    """Response times in µs recorded as Locust's workers do (3 digits, up to 60 s)."""
    result = HdrHistogram(1, 60_000_000, 3)
    for value in values:
        result.record_value(value)
    return result


def _locust_rows(run: SyntheticRun) -> list[dict]:
    rows = []
    for s, histogram in _histograms(run).items():
        rows.append(
            {
                "ts": T0 + s,
                "requests": run.requests[s],
                "failures": FAILURES.get(s, 0),
                "latency_mean_ms": mean(run.latencies_us[s]) / 1000,
                "latency_p50_ms": histogram.get_value_at_percentile(50) / 1000,
                "latency_p90_ms": histogram.get_value_at_percentile(90) / 1000,
                "latency_p99_ms": histogram.get_value_at_percentile(99) / 1000,
                "latency_p999_ms": histogram.get_value_at_percentile(99.9) / 1000,
                "latency_max_ms": histogram.get_max_value() / 1000,
            }
        )
    return rows


def _hdr_rows(run: SyntheticRun) -> list[dict]:
    return [
        {"ts": T0 + s, "count": h.total_count, "hdr": h.encode().decode()}
        for s, h in _histograms(run).items()
    ]


def _histograms(run: SyntheticRun) -> dict[int, HdrHistogram]:
    return {s: histogram(values) for s, values in run.latencies_us.items()}


def _stat_rows(run: SyntheticRun) -> list[dict]:
    rows = []
    req_tot = REQ_TOT_BEFORE
    for k in SAMPLES:
        req_tot += run.requests.get(k - 1, 0)
        if k == RELOAD_SAMPLE:
            req_tot = REQ_TOT_AFTER_RELOAD
        scur = max(0, PEAK_SCUR - 8 * abs(k - PEAK_SAMPLE)) if 2 <= k <= 22 else 0
        qcur = {PEAK_SAMPLE: 5, PEAK_SAMPLE + 1: 3}.get(k, 0)
        rows.append(_stat(k, LISTENER, "FRONTEND", 0, scur, SLIM, None, req_tot))
        rows.append(_stat(k, POOL, "BACKEND", 1, scur, None, qcur, req_tot))
        for member in MEMBERS:
            rows.append(_stat(k, POOL, member, 2, scur // 3, None, 0, None))
    return rows


def _stat(k, pxname, svname, kind, scur, slim, qcur, req_tot) -> dict:
    # A subset of `show stat` fields, in HAProxy's order.
    return {
        "ts": T0 + k,
        "pxname": pxname,
        "svname": svname,
        "qcur": qcur,
        "qmax": qcur,
        "scur": scur,
        "smax": PEAK_SCUR,
        "slim": slim,
        "stot": 10 * k,
        "status": "OPEN" if kind == 0 else "UP",
        "type": kind,
        "req_rate": None if kind == 2 else 100,
        "req_tot": req_tot,
    }


def _info_rows() -> list[dict]:
    # A subset of `show info` keys, in HAProxy's order.
    rows = []
    for k in SAMPLES:
        reloaded = k >= RELOAD_SAMPLE
        rows.append(
            {
                "ts": T0 + k,
                "ts_mono": 1000.0 + k,
                "Name": "HAProxy",
                "Pid": PIDS[reloaded],
                "Uptime_sec": k - RELOAD_SAMPLE if reloaded else 400 + k,
                "CurrConns": 0,
            }
        )
    return rows


def _gap_rows() -> list[dict]:
    return [
        {
            "ts": T0 + k,
            "ts_mono": 1000.0 + k,
            "sample": k + 1,
            "collector": "amphora_agent",
            "error": "CollectorError",
            "reason": reason,
        }
        for k, reason in AGENT_GAPS.items()
    ]


def _process_rows() -> list[dict]:
    rows = []
    for k in SAMPLES:
        rows.append(_process(k, "haproxy", 100, 1, "haproxy", 20.0 + k))
        for m in (1, 2, 3):
            master = 200 + 10 * m
            rows.append(_process(k, f"member-{m}", master, 1, "nginx", 0.5))
            rows.append(_process(k, f"member-{m}", master + 1, master, "nginx", 10.0))
            rows.append(_process(k, f"member-{m}", master + 2, master, "nginx", 12.0))
        rows.append(_process(k, "locust-master", 300, 1, "locust", 3.0))
        rows.append(_process(k, "locust-worker-1", 301, 300, "locust", 55.0))
    return rows


def _process(k, role, pid, ppid, name, cpu) -> dict:
    return {
        "ts": T0 + k,
        "role": role,
        "pid": pid,
        "ppid": ppid,
        "name": name,
        "cpu_percent": cpu,
        "rss_bytes": 50_000_000,
        "num_threads": 1,
        "num_fds": 20,
    }


def _host_cpu_rows() -> list[dict]:
    rows = []
    for k in SAMPLES[1:]:  # percentages need a previous sample
        busy = {"0": 30.0, "1": 30.0, "2": 95.0, "3": 30.0}
        busy["total"] = sum(busy.values()) / 4
        for cpu, value in busy.items():
            rows.append(_cpu(k, cpu, value))
    return rows


def _cpu(k, cpu, busy) -> dict:
    return {
        "ts": T0 + k,
        "cpu": cpu,
        "user": busy * 0.5,
        "nice": 0.0,
        "system": busy * 0.3,
        "idle": 100 - busy,
        "iowait": 0.0,
        "irq": 0.0,
        "softirq": busy * 0.2,
        "steal": 0.0,
        "busy": busy,
    }


def _manifest(run_id: str, started: datetime) -> dict:
    return {
        "format_version": 1,
        "run_id": run_id,
        "status": "complete",
        "started_at": started.isoformat(timespec="seconds"),
        "ended_at": datetime.fromtimestamp(T0 + 25, timezone.utc).isoformat(),
        "runner_pid": 4242,
        "profile": {"name": "synthetic", "users": 50},
        "testbed": "local",
        "versions": {
            "octperf": "0.1.0",
            "python": "3.11.7",
            "haproxy": "2.8.5-1ubuntu3",
            "nginx": "1.24.0",
            "locust": "2.31.8",
        },
        "host": {"hostname": "bench", "kernel": "6.8.0", "os": "Linux", "cpu_count": 4},
        "bed": {"vip_url": "http://127.0.0.10:8080/", "processes": []},
        "load": {"started_at": LOAD_START, "ended_at": LOAD_END, "workers": 1},
        "events": [
            {
                "ts": T0 + RELOAD_SAMPLE,
                "kind": "haproxy_reload",
                "message": RELOAD_MESSAGE,
            }
        ],
    }


def _summary(run: SyntheticRun) -> dict:
    client, haproxy = run.client_total, run.haproxy_total
    failures = sum(FAILURES.values())
    return {
        "status": "complete",
        "testbed": "local",
        "duration_s": LOAD_END - LOAD_START,
        "requests": {
            "client": {
                "total": client,
                "successes": client - failures,
                "failures": failures,
            },
            "haproxy": {"req_tot": haproxy, "frontend": LISTENER},
            "difference_pct": (haproxy - client) / client * 100,
        },
        "failures": failures,
        "samples": {"locust": len(SECONDS), "haproxy_stat": 5 * len(SAMPLES)},
    }


def _csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def _json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
