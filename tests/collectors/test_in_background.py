"""A slow collector in its own thread never holds the other collectors back."""

from __future__ import annotations

import threading
from pathlib import Path

from octperf.collectors._sampler import Sampler
from octperf.collectors._throttle import InBackground
from octperf.errors import CollectorError
from octperf.store import create_run


class _Hanging:
    """Answers once, then hangs until released, then fails: an agent in trouble."""

    name = "slow"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def sample(self, ts: float) -> dict:
        self.calls += 1
        if self.calls == 1:
            return {"slow": [{"ts": ts, "value": 1}]}
        self.release.wait(30)
        raise CollectorError("the source stopped answering")


class _Fast:
    name = "fast"

    def sample(self, ts: float) -> dict:
        return {"fast": [{"ts": ts, "value": 2}]}


def test_a_hanging_collector_does_not_delay_the_others(tmp_path: Path) -> None:
    """While one source hangs the other is sampled every tick; its failure is a gap."""
    run = create_run(tmp_path, "bg")
    hanging = _Hanging()
    background = InBackground(hanging, interval_s=0.2)
    sampler = Sampler(run, [background, _Fast()], interval_s=0.1)
    sampler.start()
    try:
        while sampler.samples < 15:
            threading.Event().wait(0.05)
        hanging.release.set()
        while sampler.errors["slow"] < 2:
            threading.Event().wait(0.05)
    finally:
        sampler.stop()
        background.close()
        run.close_tables()

    fast = run.read_table("fast")
    assert len(fast) >= sampler.samples - 1
    assert sampler.skipped == 0
    assert run.read_table("slow")["value"].tolist() == [1]
    gaps = run.read_table("gaps")
    assert set(gaps["collector"]) == {"slow"}
    assert gaps["reason"].str.contains("stopped answering").all()
