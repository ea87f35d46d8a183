"""Converting /1.0/details, on answers captured from the real agent."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from octperf.collectors.amphora import AmphoraCollector, Counters, details_rows
from octperf.errors import CollectorError

CAPTURED = Path(__file__).parent / "data" / "agent-octavia-19.0.0.json"


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    return json.loads(CAPTURED.read_text(encoding="utf-8"))


def _two_samples(captured: dict[str, Any]):
    (first, second), (t1, t2) = captured["details"], captured["ts"]
    tables1, counters = details_rows(first, t1, None)
    tables2, _ = details_rows(second, t2, counters)
    return tables1, tables2


def test_first_sample_converts_types_and_leaves_derived_values_empty(captured):
    """Jiffies and load arrive as strings and leave as int and float; no rate yet."""
    tables, _ = _two_samples(captured)
    row = tables["amphora_agent"][0]

    assert row["ts"] == captured["ts"][0]
    assert (row["cpu_user"], row["cpu_system"], row["cpu_soft_irq"]) == (
        126963,
        18676,
        1274,
    )
    assert row["cpu_total"] == 298821
    assert row["cpu_percent"] is None
    assert (row["load_1"], row["load_5"], row["load_15"]) == (1.5, 2.19, 1.62)
    assert row["mem_total_kb"] == 24683664
    assert row["haproxy_count"] == 1
    assert row["listener_count"] == 1
    [net] = tables["amphora_agent_net"]
    assert net["interface"] == "eth1"
    assert (net["network_tx"], net["network_rx"]) == (516, 516)
    assert net["tx_bytes_per_s"] is None and net["rx_bytes_per_s"] is None


def test_cpu_percent_is_busy_jiffies_over_total_jiffies_between_samples(captured):
    """(13 user + 16 system + 0 softirq) of 841 jiffies is 3.45 %."""
    _, tables = _two_samples(captured)
    assert tables["amphora_agent"][0]["cpu_percent"] == pytest.approx(3.45)


def test_interface_rates_are_byte_deltas_over_the_sample_interval(captured):
    """eth1 received 104312 bytes and sent 3652 in the 4.2 s between samples."""
    _, tables = _two_samples(captured)
    [net] = tables["amphora_agent_net"]
    assert net["rx_bytes_per_s"] == pytest.approx(104312 / 4.2, rel=1e-6)
    assert net["tx_bytes_per_s"] == pytest.approx(3652 / 4.2, rel=1e-6)


def test_counters_going_backwards_give_empty_values_never_negative(captured):
    """After an agent or host restart the rate and CPU % are empty."""
    (first, second), (t1, t2) = captured["details"], captured["ts"]
    _, later = details_rows(second, t1, None)
    tables, _ = details_rows(first, t2, later)

    assert tables["amphora_agent"][0]["cpu_percent"] is None
    [net] = tables["amphora_agent_net"]
    assert net["rx_bytes_per_s"] is None and net["tx_bytes_per_s"] is None


def test_an_interface_seen_for_the_first_time_has_no_rate(captured):
    """A newly plugged interface starts its counters without a rate."""
    first, second = captured["details"]
    plugged = copy.deepcopy(second)
    plugged["networks"]["eth2"] = {"network_tx": 10, "network_rx": 20}
    _, counters = details_rows(first, 0.0, None)
    tables, _ = details_rows(plugged, 2.0, counters)

    rates = {
        row["interface"]: row["rx_bytes_per_s"] for row in tables["amphora_agent_net"]
    }
    assert rates["eth2"] is None
    assert rates["eth1"] == pytest.approx((104828 - 516) / 2.0)


def test_every_sample_has_the_same_columns(captured):
    """The first row fixes a CSV table's columns, so empty values still appear."""
    tables1, tables2 = _two_samples(captured)
    assert list(tables1["amphora_agent"][0]) == list(tables2["amphora_agent"][0])
    assert list(tables1["amphora_agent_net"][0]) == list(
        tables2["amphora_agent_net"][0]
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [(("cpu", "user"), "n/a"), (("load",), ["1.0"]), (("memory",), None)],
)
def test_an_unexpected_answer_is_a_collector_error(captured, path, value):
    """A field of the wrong shape is one CollectorError, not a KeyError."""
    broken = copy.deepcopy(captured["details"][0])
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(CollectorError, match=r"unexpected /1\.0/details answer"):
        details_rows(broken, 0.0, None)


def test_the_collector_keeps_counters_from_one_sample_to_the_next(captured):
    """AmphoraCollector feeds each answer's counters into the next sample."""
    answers = iter(captured["details"])

    class Replay:
        def details(self) -> dict[str, Any]:
            return next(answers)

    collector = AmphoraCollector(Replay())  # type: ignore[arg-type]
    t1, t2 = captured["ts"]
    collector.sample(t1)
    second = collector.sample(t2)
    assert second["amphora_agent"][0]["cpu_percent"] == pytest.approx(3.45)
    assert isinstance(collector._previous, Counters)
