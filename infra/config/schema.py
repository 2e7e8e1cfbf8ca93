"""The schema of the unified configuration: every key, type and limit, defined once.

Three levels, each saying only what is its own:

* ``stacks/standard.yaml`` - the national standard, locked: components, ports, flows,
  TLS policy, log retention, MLPS level, portal sections, hotline and exchange protocol;
* ``stacks/tiers/<tier>.yaml`` - sizing per tier (province, city, county);
* ``stacks/regions/*.yaml`` - identity, target settings and the few allowed overrides.

Limits live here as `Field` constraints with a description; validation messages are
generated from them, never restated by hand. Unknown keys are refused everywhere
(``extra="forbid"``) so a typo cannot pass silently.
"""

from __future__ import annotations

from functools import cached_property
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr

from infra.config.gbt2260 import Tier, analyse

COMPONENTS: tuple[str, ...] = ("portal", "data_exchange", "hotline", "security_monitoring")
Component = Literal["portal", "data_exchange", "hotline", "security_monitoring"]
SizeName = Literal["small", "medium", "large"]
TargetName = Literal["local", "aws"]
Partition = Literal["aws", "aws-cn"]

# The Debian release every host of the design runs, on both targets (the local image's
# debootstrap suite, the aws hosts' apt sources): part of the design, not a region's choice.
DEBIAN_SUITE = "bookworm"

# Flow endpoints besides the components: outside parties, every host of the region, and
# the parent region's exchange (federation goes up the province -> city -> county chain).
OUTSIDE_ENDPOINTS: tuple[str, ...] = ("internet", "admin", "call_centre", "all_hosts")
PARENT_PREFIX = "parent."


def _int_code_to_str(value: object) -> object:
    # An unquoted code such as 330127 reaches us as an int; it is unambiguous (codes never
    # start with 0), so accept it rather than make every region file quote it.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Code = Annotated[str, BeforeValidator(_int_code_to_str)]


def _parse_network(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return IPv4Network(value, strict=True)
    except ValueError as err:
        try:
            # Name the network the author most likely meant.
            meant = IPv4Network(value, strict=False)
        except ValueError:
            raise ValueError(f"not an IPv4 network in CIDR form ({err})") from None
        raise ValueError(f"host bits are set; the network is {meant}") from None


Cidr = Annotated[IPv4Network, BeforeValidator(_parse_network)]
Port = Annotated[int, Field(ge=1, le=65535, description="a TCP port")]
StackName = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$",
        description="3-24 characters of a-z, 0-9 and '-'; it names hosts and interfaces, "
        "so it stays short and DNS-safe",
    ),
]
ChineseName = Annotated[
    str,
    Field(
        pattern=r"^[\u3400-\u9fff][\u3400-\u9fff·]{0,30}[\u3400-\u9fff]$",
        description="the official Chinese name in UTF-8, e.g. 淳安县 (Han characters; an "
        "interpunct only inside)",
    ),
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- the national standard -------------------------------------------------------------


class TlsPolicy(Model):
    min_version: Literal["1.2", "1.3"] = Field(
        description="lowest TLS version any endpoint accepts"
    )
    ciphers: list[str] = Field(min_length=1, description="TLS 1.2 cipher suites, OpenSSL names")


class ComponentSpec(Model):
    description: str
    listens: list[Port] = Field(min_length=1, description="every TCP port the component serves")


class Flow(Model):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]+$")
    source: str = Field(
        alias="from", description="an endpoint: a component or " + ", ".join(OUTSIDE_ENDPOINTS)
    )
    destination: str = Field(alias="to", description="a component, all_hosts or parent.<component>")
    ports: list[Port] = Field(min_length=1)
    reason: str = Field(min_length=1, description="why the flow exists")


class Size(Model):
    vcpus: int = Field(ge=1, le=64)
    memory_mib: int = Field(ge=256, le=262144)
    aws_instance_type: str = Field(pattern=r"^[a-z][a-z0-9]*\.[a-z0-9]+$")


class PortalSection(Model):
    id: str = Field(pattern=r"^[a-z][a-z_]+$")
    title: str = Field(min_length=2)


class PortalStandard(Model):
    sections: list[PortalSection] = Field(min_length=1)


class HotlineStandard(Model):
    number: Literal["12345"] = Field(description="the national government service hotline")
    api: Literal["open311-georeport-v2"]


class DataExchangeStandard(Model):
    protocol: Literal["amqps"]
    federation: Literal["upstream-to-parent"]


class Standard(Model):
    version: str = Field(
        pattern=r"^\d{4}\.\d+$", description="YYYY.N, bumped on every reviewed change"
    )
    mlps_level: Literal[3] = Field(
        description="GB/T 22239-2019 level; government platforms are level 3"
    )
    log_retention_days: int = Field(
        ge=180, description="Cybersecurity Law Art. 21: network logs kept for at least six months"
    )
    tls: TlsPolicy
    components: dict[Component, ComponentSpec]
    common: ComponentSpec = Field(description="what every host runs and listens on")
    flows: list[Flow] = Field(min_length=1)
    sizes: dict[SizeName, Size]
    portal: PortalStandard
    hotline: HotlineStandard
    data_exchange: DataExchangeStandard


# --- tier profiles ---------------------------------------------------------------------


class HostGroup(Model):
    count: int = Field(ge=1, le=16, description="hosts this tier runs for the component")
    max_count: int = Field(ge=1, le=16, description="the most a region of this tier may scale to")
    size: SizeName


class TierProfile(Model):
    tier: Tier = Field(strict=False)
    description: str
    availability_zones: int = Field(ge=1, le=3, description="AZs an aws region of this tier spans")
    host_groups: dict[Component, HostGroup]


# --- regions ---------------------------------------------------------------------------


class Contact(Model):
    name: str = Field(min_length=2)
    phone: str = Field(pattern=r"^\+?[0-9][0-9-]{6,19}$")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Contacts(Model):
    operations: Contact
    security: Contact = Field(description="the MLPS security officer (安全管理员) of the region")


class LocalTarget(Model):
    cidr: Cidr = Field(
        description="the region's bridge network: private (RFC 1918), /16 to /28, host bits zero"
    )
    image: Literal["baked", "bare"] = Field(
        default="baked",
        description=(
            "what the hosts boot from: `baked`, the image layers the roles bake "
            "(infra/layers/); `bare`, the base image, converged by every task of the roles"
        ),
    )


class AwsTarget(Model):
    partition: Partition
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", description="e.g. cn-northwest-1")
    vpc_cidr: Cidr = Field(description="the region's VPC: private, /16 to /22")
    admin_cidrs: list[Cidr] = Field(min_length=1, description="where administrators connect from")
    call_centre_cidrs: list[Cidr] = Field(
        min_length=1, description="the 12345 call-centre system's addresses"
    )
    image: Literal["baked", "bare"] = Field(
        default="baked",
        description=(
            "what the hosts boot from: `baked`, the AMIs of the image layers the roles bake "
            "(infra/layers/, built by EC2 Image Builder), found by their digests; `bare`, the "
            "Debian image `regionstack:ami_id`, converged by every task of the roles"
        ),
    )


class HostGroupOverride(Model):
    count: int | None = Field(default=None, ge=1, le=16)
    size: SizeName | None = None


class Overrides(Model):
    host_groups: dict[Component, HostGroupOverride] = Field(default_factory=dict)


class Region(Model):
    # Dumped as written (`tier:`, not `declared_tier:`), so a dump reads back as a region.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, serialize_by_alias=True)

    code: Code = Field(description="the GB/T 2260 code, e.g. '330127'")
    name: ChineseName
    stack: StackName
    # Read the tier from `tier` (derived from the code); this is only what the file says.
    declared_tier: Tier | None = Field(
        default=None,
        alias="tier",
        strict=False,
        description="optional; derived from the code and must agree",
    )
    parent: Code | None = Field(default=None, description="the parent region's code")
    target: TargetName
    local: LocalTarget | None = None
    aws: AwsTarget | None = None
    contacts: Contacts
    overrides: Overrides = Field(default_factory=Overrides)
    _host_groups: dict[str, HostGroup] | None = PrivateAttr(default=None)

    @cached_property
    def tier(self) -> Tier:
        """The region's tier, derived from its code (GB/T 2260) once."""
        facts = analyse(self.code)
        if facts.tier is None:  # validation refuses such a region (rule code-format)
            raise ValueError(f"code {self.code} {facts.error}")
        return facts.tier

    @property
    def host_groups(self) -> dict[str, HostGroup]:
        """Every component's host group after the region's overrides: the tier profile's
        count, max_count and size, with the override's count and size where it sets them."""
        if self._host_groups is None:
            raise LookupError(
                f"region {self.stack}: host groups are resolved by the fleet it belongs to "
                "(infra/config/loader.py Fleet); load the fleet rather than a bare region"
            )
        return self._host_groups

    def resolve_host_groups(self, profile: TierProfile) -> None:
        """Apply the overrides to the tier profile's host groups (the fleet does, once)."""
        resolved: dict[str, HostGroup] = {}
        for component, group in profile.host_groups.items():
            override = self.overrides.host_groups.get(component)
            resolved[component] = group.model_copy(
                update={
                    "count": (override.count if override else None) or group.count,
                    "size": (override.size if override else None) or group.size,
                }
            )
        self._host_groups = resolved


class RegionsFile(Model):
    regions: list[Region]


# Keys a region file may set, at the top level and under `overrides:`; anything the
# standard defines is locked and reported as such rather than as an unknown key.
REGION_KEYS = frozenset(f.alias or n for n, f in Region.model_fields.items())
OVERRIDE_KEYS = frozenset(Overrides.model_fields)
