"""The amphora bed: namespaces, guard routes, HAProxy beside the real agent.

Traffic goes only between the bed's own namespaces; the root namespace is
asked about routes (``ip route get`` sends nothing) but never sends.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from octperf.testbed import AmphoraBed, _netns
from tests.agent.conftest import skip_reason
from tests.helpers import assert_gone, small_profile

BED_NAMESPACES = {"amphora-haproxy", "octperf-members", "octperf-loadgen"}

FETCH = (
    "import sys, urllib.request\n"
    "for path in sys.argv[2:]:\n"
    "    answer = urllib.request.urlopen(sys.argv[1] + path, timeout=5)\n"
    "    print(len(answer.read()), answer.headers['X-Octperf-Member'])\n"
)


def test_teardown_removes_namespaces_routes_and_ledger(tmp_path: Path) -> None:
    """After down(), no bed namespace, guard route or ledger remains."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    bed = AmphoraBed(small_profile("amphora-down", testbed="amphora"), tmp_path)
    with bed as endpoints:
        pids = list(endpoints.processes.values())
        assert (tmp_path / "bed" / "network.json").is_file()
    assert not BED_NAMESPACES & set(_netns.list_namespaces())
    for network in ("203.0.113.0/24", "198.51.100.0/24"):
        shown = subprocess.run(
            ["ip", "route", "show", "exact", network],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert shown.strip() == ""
    assert not (tmp_path / "bed" / "network.json").exists()
    assert_gone(pids)


# The tests below share one bed; the one above must run before it exists.
@pytest.fixture(scope="module")
def amphora(tmp_path_factory):
    """An amphora bed that is up, and what it looked like while up."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("amphora")
    bed = AmphoraBed(small_profile("amphora-bed", testbed="amphora"), workdir)
    with bed as endpoints:
        yield bed, endpoints
    assert_gone(list(endpoints.processes.values()))


def test_bed_addresses_are_unreachable_from_the_root_namespace(amphora) -> None:
    """While the bed is up, the root namespace refuses every bed address."""
    bed, _ = amphora
    settings = bed.profile.amphora
    addresses = [settings.vip, settings.loadgen_address, *settings.members]
    for address in addresses:
        assert _netns.unreachable_from_root(str(address)), _netns.route_get(
            str(address)
        )
    assert set(_netns.list_namespaces()) >= BED_NAMESPACES


def test_no_bed_interface_lives_in_the_root_namespace(amphora) -> None:
    """eth1, eth2, vip0 and the members' eth0 exist only inside namespaces."""
    links = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    assert "vip0" not in links and "eth1@" not in links and "eth2@" not in links


def test_the_vip_serves_every_member_from_the_load_namespace(amphora) -> None:
    """From octperf-loadgen, the VIP answers with each object and each member."""
    _, endpoints = amphora
    paths = ["/objects/64k.bin"] + ["/health"] * 6
    done = subprocess.run(
        [
            *endpoints.load_prefix,
            sys.executable,
            "-c",
            FETCH,
            endpoints.vip_url,
            *paths,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [line.split() for line in done.stdout.splitlines()]
    assert lines[0][0] == "65536"
    assert {member for _, member in lines[1:]} == {"member-1", "member-2", "member-3"}


def test_the_agent_sees_the_rendered_listener(amphora) -> None:
    """The agent reads HAProxy's pid file and config: one HAProxy, our listener."""
    bed, _ = amphora
    assert bed.agent is not None
    versions = bed.versions()
    assert versions["amphora_agent_api"] == "1.0"
    assert versions["haproxy_per_agent"].startswith(versions["haproxy"].split("-")[0])
