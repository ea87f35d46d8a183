from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

import octperf
from octperf.store import RunDir
from tests.analysis.synthetic import SyntheticRun, write_run


@pytest.fixture
def synthetic(tmp_path) -> SyntheticRun:
    """A synthetic run directory in the documented format, with its raw data."""
    return write_run(tmp_path / "runs")


@pytest.fixture
def run(synthetic) -> RunDir:
    """The synthetic run, opened."""
    return octperf.open_run(synthetic.path)


@pytest.fixture
def local_run(tmp_path) -> RunDir:
    """The synthetic run as the local bed makes it: no agent, no heartbeat."""
    return octperf.open_run(write_run(tmp_path / "local", amphora=False).path)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
