"""The Octavia amphora agent's view of its host: ``/1.0/details`` over mutual TLS.

Two tables (docs/amphora-agent.md):

- ``amphora_agent``: one row per sample: CPU jiffies and the CPU % derived
  from them, memory (kB), disk (bytes), load averages, HAProxy processes
  and listeners;
- ``amphora_agent_net``: one row per sample and interface of the
  ``amphora-haproxy`` namespace: cumulative byte counters and the rates
  derived from them.

The agent sends CPU jiffies and load averages as strings; they are
converted here. Rates and CPU % need two samples, so the first is empty,
and so is any whose counter went backwards (agent or host restarted): a
rate is never negative.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from octperf.errors import CollectorError

log = logging.getLogger(__name__)

Tables = dict[str, list[dict[str, Any]]]

# /details takes about 110 ms on an idle machine and the agent has one
# synchronous worker, so a caller may queue behind another.
DEFAULT_TIMEOUT_S = 5.0

# (column, key in the agent's "memory" object); all in kB. The agent fills
# "swap_used" from SwapCached in /proc/meminfo, not from SwapTotal - SwapFree.
MEMORY_FIELDS = (
    ("mem_total_kb", "total"),
    ("mem_free_kb", "free"),
    ("mem_buffers_kb", "buffers"),
    ("mem_cached_kb", "cached"),
    ("mem_swap_used_kb", "swap_used"),
    ("mem_shared_kb", "shared"),
    ("mem_slab_kb", "slab"),
)


class AmphoraAPI:
    """The agent's REST API at ``url`` (``https://host:9443``), mutual TLS.

    The agent is verified against ``server_ca`` and shown ``client_cert``
    with ``client_key``. ``timeout_s`` bounds connecting and each read.
    Every failure raises CollectorError naming the URL and what to check.
    """

    def __init__(
        self,
        url: str,
        client_cert: Path,
        client_key: Path,
        server_ca: Path,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        for path in (client_cert, client_key, server_ca):
            if not Path(path).is_file():
                raise CollectorError(
                    f"{path} does not exist: the amphora agent client needs "
                    "its certificate, key and the CA of the agent's certificate"
                )
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._cert = (str(client_cert), str(client_key))
        self._verify = str(server_ca)
        # Without this, REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE in the
        # environment would replace a session's CA (psf/requests#3829) and
        # an HTTPS_PROXY would carry the call off the machine.
        self._session = requests.Session()
        self._session.trust_env = False

    def __repr__(self) -> str:
        return f"AmphoraAPI({self.url!r}, timeout_s={self.timeout_s})"

    def info(self) -> dict[str, Any]:
        """``/1.0/info``: hostname, api_version and the dpkg versions of
        haproxy, keepalived and ipvsadm (raw strings such as
        ``2.6.12-1+deb12u4``)."""
        return self.get("/1.0/info")

    def details(self) -> dict[str, Any]:
        """``/1.0/details`` as the agent sends it (see ``details_rows``)."""
        return self.get("/1.0/details")

    def get(self, path: str) -> dict[str, Any]:
        """GET ``path`` and return its JSON object."""
        url = self.url + path
        try:
            answer = self._session.get(
                url, cert=self._cert, verify=self._verify, timeout=self.timeout_s
            )
        except requests.RequestException as error:
            raise CollectorError(_unreachable(url, error, self.timeout_s)) from error
        if answer.status_code != 200:
            raise CollectorError(_refused(url, answer))
        try:
            body = answer.json()
        except ValueError as error:
            raise CollectorError(
                f"the amphora agent at {url} answered HTTP 200 with something "
                f"that is not JSON ({answer.text[:80]!r}): check that the URL "
                "points at the agent and not at another service"
            ) from error
        if not isinstance(body, dict):
            raise CollectorError(f"the amphora agent at {url} answered {body!r}")
        log.debug("%s answered in %.0f ms", url, answer.elapsed.total_seconds() * 1e3)
        return body


@dataclass(frozen=True)
class Counters:
    """What one sample leaves for the next: the time and cumulative counters."""

    ts: float
    cpu_busy: int
    cpu_total: int
    networks: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Interface name to (network_tx, network_rx) bytes."""


class AmphoraCollector:
    """Samples ``/1.0/details`` into ``amphora_agent`` and ``amphora_agent_net``.

    A failed call raises CollectorError; the counters of the last good
    sample are kept, so the next rates span the gap.
    """

    name = "amphora_agent"

    def __init__(self, api: AmphoraAPI) -> None:
        self.api = api
        self._previous: Counters | None = None

    def sample(self, ts: float) -> Tables:
        """Rows for both tables at ``ts`` (Unix seconds)."""
        tables, self._previous = details_rows(self.api.details(), ts, self._previous)
        return tables


def details_rows(
    details: Mapping[str, Any], ts: float, previous: Counters | None
) -> tuple[Tables, Counters]:
    """Convert one ``/1.0/details`` answer into table rows.

    ``cpu_total`` is the agent's ``cpu.total``: the sum of *every* field of
    the ``cpu`` line of /proc/stat (user, nice, system, idle, iowait, irq,
    softirq, steal, guest, guest_nice; guest time is thus counted twice).
    The agent sends neither idle nor nice, so ``cpu_percent`` is
    100 * delta(user + system + soft_irq) / delta(total) between the two
    samples: host-wide, 0 to 100 whatever the number of CPUs. Rates are
    bytes per second of ``ts`` between the two samples. Raises
    CollectorError when a field is missing or not a number.
    """
    try:
        counters = _counters(details, ts)
        row = _agent_row(details, ts, counters, previous)
        net = [_net_row(name, counters, previous) for name in sorted(counters.networks)]
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise CollectorError(
            f"unexpected /1.0/details answer ({type(error).__name__}: {error}); "
            "this collector knows the agent of octavia 19"
        ) from error
    return {"amphora_agent": [row], "amphora_agent_net": net}, counters


def _counters(details: Mapping[str, Any], ts: float) -> Counters:
    cpu = details["cpu"]
    busy = int(cpu["user"]) + int(cpu["system"]) + int(cpu["soft_irq"])
    networks = {
        str(name): (int(counts["network_tx"]), int(counts["network_rx"]))
        for name, counts in details["networks"].items()
    }
    return Counters(ts, busy, int(cpu["total"]), networks)


def _agent_row(
    details: Mapping[str, Any],
    ts: float,
    counters: Counters,
    previous: Counters | None,
) -> dict[str, Any]:
    cpu, memory, disk = details["cpu"], details["memory"], details["disk"]
    load = [float(value) for value in details["load"]]
    row: dict[str, Any] = {
        "ts": ts,
        "cpu_count": int(details["cpu_count"]),
        "cpu_user": int(cpu["user"]),
        "cpu_system": int(cpu["system"]),
        "cpu_soft_irq": int(cpu["soft_irq"]),
        "cpu_total": counters.cpu_total,
        "cpu_percent": _cpu_percent(counters, previous),
    }
    row |= {column: int(memory[key]) for column, key in MEMORY_FIELDS}
    row |= {
        "disk_used_bytes": int(disk["used"]),
        "disk_available_bytes": int(disk["available"]),
        "load_1": load[0],
        "load_5": load[1],
        "load_15": load[2],
        "haproxy_count": int(details["haproxy_count"]),
        "listener_count": len(details["listeners"]),
    }
    return row


def _cpu_percent(counters: Counters, previous: Counters | None) -> float | None:
    if previous is None:
        return None
    busy = counters.cpu_busy - previous.cpu_busy
    total = counters.cpu_total - previous.cpu_total
    if total <= 0 or busy < 0 or busy > total:
        return None
    return round(100.0 * busy / total, 2)


def _net_row(
    name: str, counters: Counters, previous: Counters | None
) -> dict[str, Any]:
    tx, rx = counters.networks[name]
    before = previous.networks.get(name) if previous is not None else None
    elapsed = counters.ts - previous.ts if previous is not None else 0.0
    return {
        "ts": counters.ts,
        "interface": name,
        "network_tx": tx,
        "network_rx": rx,
        "tx_bytes_per_s": _rate(tx, before[0] if before else None, elapsed),
        "rx_bytes_per_s": _rate(rx, before[1] if before else None, elapsed),
    }


def _rate(now: int, before: int | None, elapsed_s: float) -> float | None:
    if before is None or elapsed_s <= 0 or now < before:
        return None
    return round((now - before) / elapsed_s, 3)


def _unreachable(url: str, error: requests.RequestException, timeout_s: float) -> str:
    if isinstance(error, requests.exceptions.SSLError):
        return (
            f"TLS with the amphora agent at {url} failed ({error}): check that "
            "server_ca signed the agent's certificate, that the certificate "
            "names this host, and that the agent's agent_server_ca signed the "
            "client certificate"
        )
    if isinstance(error, requests.exceptions.Timeout):
        return (
            f"the amphora agent at {url} did not answer within {timeout_s} s: "
            "it has one synchronous worker (about 100 ms a call), so check "
            "that nothing else polls it, or raise the timeout"
        )
    return (
        f"cannot reach the amphora agent at {url} ({error}): check that it "
        "runs (its log: amphora-agent.log) and listens on that address "
        "([haproxy_amphora] bind_host, bind_port)"
    )


def _refused(url: str, answer: requests.Response) -> str:
    reason = answer.text[:200]
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        reason = str(body["error"])
    hint = (
        "a 500 on /details usually means the agent is not root, the "
        "amphora-haproxy namespace is missing, or dpkg-query finds no "
        "haproxy, keepalived or ipvsadm"
        if answer.status_code >= 500
        else "check the path and the agent's API version (GET /)"
    )
    return (
        f"the amphora agent at {url} answered HTTP {answer.status_code} "
        f"({reason!r}): {hint}; its log: amphora-agent.log"
    )
