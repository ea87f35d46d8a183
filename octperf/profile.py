"""Load profiles: what to run, validated at the edge.

A profile is a YAML file (see ``locust/profiles/``). Unknown keys, wrong
types and out-of-range values are refused with the file and the key path.
Names follow Octavia (listener, pool, member, connection_limit) and Locust
(users, spawn rate, workers).
"""

from __future__ import annotations

import ipaddress
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from octperf.errors import ConfigError

# Object sizes every member serves, by the name scenarios use.
OBJECT_SIZES = {"1k": 1024, "64k": 64 * 1024, "1m": 1024 * 1024}

# Octavia's listener default when connection_limit is -1 ("unlimited").
OCTAVIA_DEFAULT_MAXCONN = 50000

_UUID_NAMESPACE = uuid.UUID("6f1c3a52-52c4-4c8e-9a52-0c7e4a1f2b10")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoadSettings(_Strict):
    """How Locust drives the VIP."""

    users: Annotated[int, Field(ge=1, le=100_000)] = 50
    spawn_rate: Annotated[float, Field(gt=0, le=10_000)] = 50.0
    duration_s: Annotated[float, Field(gt=0, le=24 * 3600)] = 30.0
    workers: Annotated[int | None, Field(ge=1, le=256)] = None
    """Locust worker processes; None means one per CPU core."""


class Scenario(_Strict):
    """What each simulated user does."""

    object_size: Literal["1k", "64k", "1m"] = "1k"
    keep_alive: bool = True
    think_time_s: Annotated[float, Field(ge=0, le=3600)] = 0.0


class HealthMonitor(_Strict):
    """An Octavia HTTP health monitor on the pool."""

    delay: Annotated[int, Field(ge=1)] = 5
    timeout: Annotated[int, Field(ge=1)] = 5
    max_retries: Annotated[int, Field(ge=1, le=10)] = 3
    max_retries_down: Annotated[int, Field(ge=1, le=10)] = 3
    url_path: str = "/health"
    expected_codes: str = "200"


class Listener(_Strict):
    """An Octavia HTTP listener; timeouts in milliseconds as in Octavia."""

    protocol_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    connection_limit: Annotated[int, Field(ge=-1)] = -1
    """-1 is Octavia's "unlimited", rendered as maxconn 50000 and then sized
    to the open-files limit of the machine."""
    timeout_client_data: Annotated[int, Field(ge=0)] = 50000
    timeout_member_connect: Annotated[int, Field(ge=0)] = 5000
    timeout_member_data: Annotated[int, Field(ge=0)] = 50000
    timeout_tcp_inspect: Annotated[int, Field(ge=0)] = 0


class Pool(_Strict):
    """An Octavia pool and its health monitor."""

    lb_algorithm: Literal["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"] = (
        "ROUND_ROBIN"
    )
    health_monitor: HealthMonitor | None = HealthMonitor()


class LocalBed(_Strict):
    """Addresses of the local bed; all of 127.0.0.0/8 is loopback on Linux."""

    vip: ipaddress.IPv4Address = ipaddress.IPv4Address("127.0.200.50")
    members: list[ipaddress.IPv4Address] = Field(
        default_factory=lambda: [
            ipaddress.IPv4Address(f"127.0.201.{n}") for n in (11, 12, 13)
        ],
        min_length=1,
        max_length=64,
    )
    member_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    haproxy_nbthread: Annotated[int | None, Field(ge=1, le=64)] = 1
    """HAProxy threads; 1 as in an amphora of the default one-vCPU flavor,
    None lets HAProxy start one per CPU."""

    @field_validator("vip", "members")
    @classmethod
    def _loopback_only(cls, value):
        addresses = value if isinstance(value, list) else [value]
        for address in addresses:
            if not address.is_loopback:
                raise ValueError(
                    f"{address} is not in 127.0.0.0/8; the local bed sends "
                    "traffic to loopback addresses only"
                )
        return value


class AmphoraBed(_Strict):
    """Addresses of the amphora bed; they exist only inside its namespaces.

    Defaults come from documentation ranges (RFC 5737) that no real network
    uses. The VIP network joins the load generator to the amphora's ``eth1``;
    the member network joins the amphora's ``eth2`` to the members.
    """

    vip_network: ipaddress.IPv4Network = ipaddress.IPv4Network("203.0.113.0/24")
    vip: ipaddress.IPv4Address = ipaddress.IPv4Address("203.0.113.50")
    loadgen_address: ipaddress.IPv4Address = ipaddress.IPv4Address("203.0.113.10")
    member_network: ipaddress.IPv4Network = ipaddress.IPv4Network("198.51.100.0/24")
    amphora_member_address: ipaddress.IPv4Address = ipaddress.IPv4Address(
        "198.51.100.1"
    )
    members: list[ipaddress.IPv4Address] = Field(
        default_factory=lambda: [
            ipaddress.IPv4Address(f"198.51.100.{n}") for n in (11, 12, 13)
        ],
        min_length=1,
        max_length=64,
    )
    member_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    haproxy_nbthread: Annotated[int | None, Field(ge=1, le=64)] = 1
    agent_port: Annotated[int, Field(ge=1024, le=65535)] = 9443
    """The amphora agent's port on 127.0.0.1 of the root namespace."""
    heartbeat_port: Annotated[int, Field(ge=1024, le=65535)] = 5555
    """Where octperf receives the agent's UDP heartbeat, on 127.0.0.1."""

    @model_validator(mode="after")
    def _addresses_in_their_networks(self) -> AmphoraBed:
        if self.vip_network.overlaps(self.member_network):
            raise ValueError("vip_network and member_network overlap")
        for network in (self.vip_network, self.member_network):
            if network.is_loopback or network.prefixlen < 16:
                raise ValueError(f"{network}: use a /16 or smaller, not loopback")
        _inside(self.vip_network, vip=self.vip, loadgen_address=self.loadgen_address)
        _inside(self.member_network, amphora_member_address=self.amphora_member_address)
        for n, member in enumerate(self.members):
            _inside(self.member_network, **{f"members[{n}]": member})
        return self


def _inside(network: ipaddress.IPv4Network, **addresses) -> None:
    for name, address in addresses.items():
        if address not in network or address in (
            network.network_address,
            network.broadcast_address,
        ):
            raise ValueError(f"{name} {address} is not a host of {network}")


class Collect(_Strict):
    """How often the collectors sample."""

    interval_s: Annotated[float, Field(ge=0.1, le=60)] = 1.0


class Objectives(_Strict):
    """What a step must meet to count as sustainable (sweep reports)."""

    latency_percentile: Literal["p50", "p90", "p99", "p999"] = "p99"
    latency_ms: Annotated[float, Field(gt=0)] = 100.0
    failure_budget: Annotated[float, Field(ge=0, lt=1)] = 0.01
    """Largest acceptable share of failed requests (0.01 is 1 %)."""


class Sweep(_Strict):
    """Steps of a sweep: each sets profile fields named by dotted paths.

    ``steps`` lists the steps one by one; ``matrix`` gives values per field
    and a step for every combination (the first field varies slowest).
    """

    cooldown_s: Annotated[float, Field(ge=0, le=3600)] = 5.0
    steps: list[dict[str, Any]] = Field(default_factory=list)
    matrix: dict[str, list[Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _steps_or_matrix(self) -> Sweep:
        if self.steps and self.matrix:
            raise ValueError("give sweep.steps or sweep.matrix, not both")
        if any(not values for values in self.matrix.values()):
            raise ValueError("every sweep.matrix field needs at least one value")
        return self


class Profile(_Strict):
    """One experiment: the bed, the load balancer, the load and the sampling."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    testbed: Literal["local", "amphora"] = "local"
    load: LoadSettings = LoadSettings()
    scenario: Scenario = Scenario()
    listener: Listener = Listener()
    pool: Pool = Pool()
    local: LocalBed = LocalBed()
    amphora: AmphoraBed = AmphoraBed()
    collect: Collect = Collect()
    sweep: Sweep = Sweep()
    objectives: Objectives = Objectives()

    @model_validator(mode="after")
    def _distinct_addresses(self) -> Profile:
        for key in ("local", "amphora"):
            members = getattr(self, key).members
            if len(set(members)) != len(members):
                raise ValueError(
                    f"{key}.members lists an address twice; each member needs "
                    "its own address"
                )
        local = self.local
        same_port = local.member_port == self.listener.protocol_port
        if local.vip in local.members and same_port:
            raise ValueError(
                f"local.vip {local.vip} is also a member on port "
                f"{local.member_port}: give the VIP another address or port"
            )
        return self

    def object_path(self) -> str:
        """The URL path of the object the scenario fetches."""
        return f"/objects/{self.scenario.object_size}.bin"

    def amphora_id(self) -> str:
        return self._uuid("amphora")

    def loadbalancer_id(self) -> str:
        return self._uuid("loadbalancer")

    def listener_id(self) -> str:
        return self._uuid("listener")

    def pool_id(self) -> str:
        return self._uuid("pool")

    def member_ids(self) -> list[str]:
        return [self._uuid(f"member/{n}") for n in range(len(self.bed().members))]

    def bed(self) -> LocalBed | AmphoraBed:
        """The addresses of the bed this profile runs on."""
        return self.amphora if self.testbed == "amphora" else self.local

    def _uuid(self, role: str) -> str:
        # Stable per profile name, so configurations and stats rows of two
        # runs of the same profile carry the same proxy names.
        return str(uuid.uuid5(_UUID_NAMESPACE, f"{self.name}/{role}"))


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile YAML.

    Raises ConfigError naming the file and the key path of the first
    problems found.
    """
    path = Path(path)
    data = _read_yaml(path)
    try:
        return Profile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(path, error)) from None


def override(profile: Profile, values: dict[str, Any], source: str = "") -> Profile:
    """``profile`` with fields named by dotted paths set, validated again.

    ``override(p, {"load.users": 20, "scenario.object_size": "64k"})``.
    Raises ConfigError naming a path that is no profile field.
    """
    data = profile.model_dump(mode="json")
    data["sweep"] = {}
    where = source or "override"
    for path, value in values.items():
        if not _set_path(data, path, value):
            raise ConfigError(
                f"{where}: {path} names no profile field (dotted paths such as "
                "load.users or scenario.object_size)"
            )
    return profile_from_dict(data, source=where)


def _set_path(data: dict[str, Any], path: str, value: Any) -> bool:
    *parents, leaf = path.split(".")
    target: Any = data
    for key in parents:
        target = target.get(key) if isinstance(target, dict) else None
    if not isinstance(target, dict) or leaf not in target:
        return False
    target[leaf] = value
    return True


def profile_from_dict(data: dict, source: str = "<dict>") -> Profile:
    """Validate a profile given as a mapping (notebooks, tests)."""
    try:
        return Profile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(Path(source), error)) from None


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"cannot read profile {path}: {error.strerror}; give the path of a "
            "YAML profile such as locust/profiles/demo.yaml"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or "cannot parse"
        raise ConfigError(f"{path} is not valid YAML{line}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a profile is a YAML mapping with at least 'name'")
    return data


def _describe(path: Path, error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:3]:
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against docs/profiles.md"
        given = item.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        problems.append(f"{key}: {message}{shown}")
    more = len(error.errors()) - len(problems)
    suffix = f"; and {more} more" if more > 0 else ""
    return f"{path}: " + "; ".join(problems) + suffix
