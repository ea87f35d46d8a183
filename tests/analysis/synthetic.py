"""A small synthetic run directory, written exactly as docs/run-directory.md says.

Twenty seconds of load against one listener, one pool of three members.
HAProxy reloads in the middle (its counters restart, its worker gets a new
Pid), one second in five has a slow tail so per-second p99s and the window's
p99 disagree, and every member runs an nginx master with two workers. The
amphora agent's collector fails for a few samples, with two reasons.

By default the run is an amphora run: the agent's tables (its samples
where it did not fail), psutil's memory, and a heartbeat every second at
the half second, computed from HAProxy's counters as the agent computes it
(deltas, a counter that went down counting from zero). The listener is
FULL at the peak. ``write_run(base, amphora=False)`` writes a local run:
no agent, no heartbeat.
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
AGENT_URL = "https://127.0.0.1:9443"
AMPHORA_ID = "b4060f89-a298-55d7-97e3-e69163e67f70"
BYTES_OUT, BYTES_IN = 1000, 100  # per request, as the frontend counts them
MEM_TOTAL_KB, MEM_FREE_KB = 4_194_304, 3_145_728
MEM_BUFFERS_KB, MEM_CACHED_KB = 102_400, 204_800
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
    heartbeats: list[dict] = field(default_factory=list)
    agent: list[dict] = field(default_factory=list)

    @property
    def client_total(self) -> int:
        return sum(self.requests.values())

    @property
    def haproxy_total(self) -> int:
        """``req_tot`` increase with the reload interval dropped."""
        return self.client_total - self.requests[RELOAD_SAMPLE - 1]


def write_run(base: Path, amphora: bool = True) -> SyntheticRun:
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
    _csv(tables / "host_memory.csv", _host_memory_rows())
    if amphora:
        _write_amphora(run, tables)
    testbed = "amphora" if amphora else "local"
    _json(run.path / "manifest.json", _manifest(run_id, started, testbed))
    _json(run.path / "summary.json", _summary(run, testbed))
    return run


def _write_amphora(run: SyntheticRun, tables: Path) -> None:
    run.agent = _agent_rows()
    run.heartbeats = _heartbeat_rows(run)
    _csv(tables / "amphora_agent.csv", run.agent)
    _csv(tables / "amphora_agent_net.csv", _agent_net_rows(run))
    _csv(tables / "heartbeat.csv", run.heartbeats)


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
    req_tot = _req_tot(run)
    for k in SAMPLES:
        scur = _scur(k)
        qcur = {PEAK_SAMPLE: 5, PEAK_SAMPLE + 1: 3}.get(k, 0)
        status = "FULL" if k == PEAK_SAMPLE else "OPEN"
        counters = _frontend_counters(req_tot[k])
        rows.append(
            _stat(k, LISTENER, "FRONTEND", 0, scur, SLIM, None, status, counters)
        )
        rows.append(_stat(k, POOL, "BACKEND", 1, scur, None, qcur, "UP", counters))
        for member in MEMBERS:
            rows.append(_stat(k, POOL, member, 2, scur // 3, None, 0, "UP", {}))
    return rows


def _req_tot(run: SyntheticRun) -> dict[int, int]:
    """The frontend's ``req_tot`` at each sample: it restarts at the reload."""
    values, req_tot = {}, REQ_TOT_BEFORE
    for k in SAMPLES:
        req_tot += run.requests.get(k - 1, 0)
        if k == RELOAD_SAMPLE:
            req_tot = REQ_TOT_AFTER_RELOAD
        values[k] = req_tot
    return values


def _frontend_counters(req_tot: int) -> dict[str, int]:
    """Counters that follow ``req_tot``; every value even, so halves are whole."""
    return {
        "bin": BYTES_IN * req_tot,
        "bout": BYTES_OUT * req_tot,
        "ereq": 2 * (req_tot // 500),
        "stot": 2 * (req_tot // 10),
        "req_tot": req_tot,
    }


def _scur(k: int) -> int:
    return max(0, PEAK_SCUR - 8 * abs(k - PEAK_SAMPLE)) if 2 <= k <= 22 else 0


def _stat(k, pxname, svname, kind, scur, slim, qcur, status, counters) -> dict:
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
        "stot": counters.get("stot"),
        "bin": counters.get("bin"),
        "bout": counters.get("bout"),
        "ereq": counters.get("ereq"),
        "status": status,
        "type": kind,
        "req_rate": None if kind == 2 else 100,
        "req_tot": counters.get("req_tot"),
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


def _host_memory_rows() -> list[dict]:
    mib = 1024 * 1024
    return [
        {
            "ts": T0 + k,
            "ts_mono": 1000.0 + k,
            "total_bytes": 4096 * mib,
            "available_bytes": (3300 - k) * mib,
            "used_bytes": (700 + k) * mib,
            "swap_total_bytes": 0,
            "swap_used_bytes": 0,
        }
        for k in SAMPLES
    ]


def agent_samples() -> list[int]:
    """The samples the agent answered: all but its gaps."""
    return [k for k in SAMPLES if k not in AGENT_GAPS]


def _agent_rows() -> list[dict]:
    rows = []
    for k in agent_samples():
        rows.append(
            {
                "ts": T0 + k,
                "ts_mono": 1000.0 + k,
                "cpu_count": 4,
                # The first sample has no previous one to take a delta from.
                "cpu_percent": None if k == 0 else 40.0 + k,
                "mem_total_kb": MEM_TOTAL_KB,
                "mem_free_kb": MEM_FREE_KB - 1024 * k,
                "mem_buffers_kb": MEM_BUFFERS_KB,
                "mem_cached_kb": MEM_CACHED_KB,
                "load_1": 1.5,
                "haproxy_count": 1,
                "listener_count": 1,
            }
        )
    return rows


def _agent_net_rows(run: SyntheticRun) -> list[dict]:
    """eth1 (clients) and eth2 (members): counters never reset with HAProxy."""
    per_request = {"eth1": (1040, 150), "eth2": (160, 1020)}  # tx, rx bytes
    rows, previous = [], None
    for k in agent_samples():
        served = sum(n for s, n in run.requests.items() if s < k)
        for interface, (tx, rx) in per_request.items():
            rows.append(
                {
                    "ts": T0 + k,
                    "ts_mono": 1000.0 + k,
                    "interface": interface,
                    "network_tx": tx * served,
                    "network_rx": rx * served,
                    "tx_bytes_per_s": _rate(tx, served, previous, k),
                    "rx_bytes_per_s": _rate(rx, served, previous, k),
                }
            )
        previous = (k, served)
    return rows


def _rate(per_request, served, previous, k) -> float | None:
    if previous is None:
        return None
    then, served_then = previous
    return per_request * (served - served_then) / (k - then)


def _heartbeat_rows(run: SyntheticRun) -> list[dict]:
    """A heartbeat at T0 + j + 0.5, j = 0 … 23, as the agent sends them."""
    req_tot = _req_tot(run)
    rows, last = [], None
    for j in SAMPLES[:-1]:
        read = _read_at_half(req_tot, j)
        deltas = {name: _delta(read[name], last, name) for name in read}
        last = read
        rows.append(
            {
                "ts": T0 + j + 0.5,
                "ts_mono": 1001.0 + j,
                "amphora_id": AMPHORA_ID,
                "seq": j + 1,
                "ver": 3,
                "listener_id": LISTENER,
                "status": "FULL" if j == PEAK_SAMPLE else "OPEN",
                "tx": deltas["bout"],
                "rx": deltas["bin"],
                "conns": _scur(j),
                "totconns": deltas["stot"],
                "ereq": deltas["ereq"],
            }
        )
    return rows


def _read_at_half(req_tot: dict[int, int], j: int) -> dict[str, int]:
    """The frontend's counters half way from sample j to j + 1.

    Between the two samples around the reload, the new HAProxy has counted
    half of what it shows at the next sample.
    """
    before = _frontend_counters(req_tot[j])
    after = _frontend_counters(req_tot[j + 1])
    if j + 1 == RELOAD_SAMPLE:
        return {name: after[name] // 2 for name in after}
    return {name: (before[name] + after[name]) // 2 for name in after}


def _delta(value: int, last: dict | None, name: str) -> int:
    """The agent's delta: 0 the first time, the value itself if it went down."""
    if last is None:
        return 0
    delta = value - last[name]
    return value if delta < 0 else delta


def _manifest(run_id: str, started: datetime, testbed: str) -> dict:
    bed: dict = {"vip_url": "http://127.0.0.10:8080/", "processes": []}
    if testbed == "amphora":
        bed["agent"] = {"url": AGENT_URL}
        bed["heartbeat"] = {"host": "127.0.0.1", "port": 5555}
    return {
        "format_version": 1,
        "run_id": run_id,
        "status": "complete",
        "started_at": started.isoformat(timespec="seconds"),
        "ended_at": datetime.fromtimestamp(T0 + 25, timezone.utc).isoformat(),
        "runner_pid": 4242,
        "profile": {"name": "synthetic", "users": 50},
        "testbed": testbed,
        "versions": {
            "octperf": "0.1.0",
            "python": "3.11.7",
            "haproxy": "2.8.5-1ubuntu3",
            "nginx": "1.24.0",
            "locust": "2.31.8",
        },
        "host": {"hostname": "bench", "kernel": "6.8.0", "os": "Linux", "cpu_count": 4},
        "bed": bed,
        "load": {"started_at": LOAD_START, "ended_at": LOAD_END, "workers": 1},
        "events": [
            {
                "ts": T0 + RELOAD_SAMPLE,
                "kind": "haproxy_reload",
                "message": RELOAD_MESSAGE,
            }
        ],
    }


def _summary(run: SyntheticRun, testbed: str) -> dict:
    client, haproxy = run.client_total, run.haproxy_total
    failures = sum(FAILURES.values())
    return {
        "status": "complete",
        "testbed": testbed,
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
