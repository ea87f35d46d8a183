"""Profiles are validated at the edge, with the file and key in the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from octperf.errors import ConfigError
from octperf.profile import load_profile

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_profile_loads_with_its_documented_values() -> None:
    """The shipped demo runs 50 users for 30 s on the local bed."""
    profile = load_profile(REPO / "locust/profiles/demo.yaml")
    assert (profile.load.users, profile.load.duration_s) == (50, 30)
    assert profile.testbed == "local"
    assert str(profile.local.vip) == "127.0.200.50"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nload: {userz: 3}\n", r"load\.userz: unknown key"),
        ("name: x\nload: {users: 0}\n", r"load\.users: .*greater than or equal to 1"),
        ("name: x\nscenario: {object_size: 2k}\n", r"scenario\.object_size"),
        ("name: x\nlocal: {vip: 192.0.2.3}\n", r"local\.vip: .*not in 127\.0\.0\.0/8"),
        ("load: {users: 3}\n", r"name: Field required"),
        ("name: [unclosed\n", r"not valid YAML"),
    ],
)
def test_bad_profiles_name_the_file_and_key(tmp_path: Path, text, expected) -> None:
    """Each kind of mistake gives one message with the path and the key."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_profile(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_profile_says_where_profiles_are(tmp_path: Path) -> None:
    """A wrong path points at the shipped profiles."""
    with pytest.raises(ConfigError, match=r"locust/profiles/demo\.yaml"):
        load_profile(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nlocal: {members: [127.0.201.11, 127.0.201.11]}\n",
            r"local\.members lists an address twice",
        ),
        (
            "name: x\nlocal: {vip: 127.0.201.11}\n",
            r"local\.vip 127\.0\.201\.11 is also a member",
        ),
        (
            "name: x\namphora: {vip: 198.51.100.50}\n",
            r"vip 198\.51\.100\.50 is not a host of 203\.0\.113\.0/24",
        ),
    ],
)
def test_addresses_that_would_collide_are_refused(tmp_path: Path, text, expected):
    """Two processes can never be asked to bind one address and port."""
    path = tmp_path / "clash.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_profile(path)
