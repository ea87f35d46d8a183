"""The environment variables octperf hands to the Locust processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from octperf.errors import ConfigError
from octperf.load._env import LocustSettings


def test_settings_survive_the_trip_through_the_environment(tmp_path: Path):
    """What LocustLoad writes is what the locustfile reads."""
    settings = LocustSettings(
        object_path="/objects/64k.bin",
        keep_alive=False,
        think_time_s=0.25,
        tables_dir=tmp_path / "tables",
        result_path=tmp_path / "result.json",
    )
    assert LocustSettings.from_env(settings.to_env()) == settings


def test_missing_variables_mean_the_defaults():
    """An empty environment is keep-alive, no think time, nowhere to write."""
    assert LocustSettings.from_env({}) == LocustSettings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OCTPERF_OBJECT_PATH", "objects/1k.bin"),
        ("OCTPERF_KEEP_ALIVE", "yes"),
        ("OCTPERF_THINK_TIME_S", "-1"),
        ("OCTPERF_THINK_TIME_S", "soon"),
        ("OCTPERF_THINK_TIME_S", "inf"),
    ],
)
def test_malformed_variables_are_refused_by_name(name: str, value: str):
    """A bad value raises ConfigError naming the variable."""
    with pytest.raises(ConfigError, match=name):
        LocustSettings.from_env({name: value})
