"""Test beds: bring up HAProxy (the amphora) and its members, take them down.

Every bed renders the same templates (``templates/testbed``) and hands back
the same ``Endpoints``: the VIP URL, the stats socket and the processes to
sample.
"""

from __future__ import annotations

from pathlib import Path

from octperf.profile import Profile
from octperf.testbed._bed import ProcessBed
from octperf.testbed._endpoints import Endpoints
from octperf.testbed.amphora import AmphoraBed
from octperf.testbed.local import LocalBed

__all__ = ["AmphoraBed", "Endpoints", "LocalBed", "ProcessBed", "make_bed"]

BEDS: dict[str, type[ProcessBed]] = {"local": LocalBed, "amphora": AmphoraBed}


def make_bed(profile: Profile, workdir: Path) -> ProcessBed:
    """The bed named by ``profile.testbed`` (validated by the profile)."""
    return BEDS[profile.testbed](profile, workdir)
