"""Rules that a schema alone cannot express: GB/T 2260 codes and parents, uniqueness,
target settings, address plans, override bounds, and the consistency of the standard.

Each rule has an id (shown as ``[rule]`` in messages and used by the tests) and reports
every violation it finds rather than stopping at the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any

from infra.config.gbt2260 import Tier, analyse
from infra.config.problems import KeyPath, Problem, format_key_path
from infra.config.schema import (
    COMPONENTS,
    OUTSIDE_ENDPOINTS,
    PARENT_PREFIX,
    Region,
    Standard,
    TierProfile,
)
from infra.config.yamlsource import YamlDocument

if TYPE_CHECKING:
    from infra.config.loader import SourcedRegion

# A region's bridge or VPC must hold its hosts; these bound the address plan.
LOCAL_PREFIX_RANGE = (16, 28)
AWS_VPC_PREFIX_RANGE = (16, 22)
# network, gateway and broadcast addresses are never given to hosts
RESERVED_ADDRESSES = 3
RFC1918 = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
AWS_CN_REGION_PREFIX = "cn-"


def missing_file(file: str, what: str) -> Problem:
    return Problem(file, "<document>", f"{what} is missing", f"create {file}", "missing-file")


def regions_file_shape(doc: YamlDocument) -> Problem:
    return doc.problem(
        (),
        "a regions file holds exactly one key, `regions:`, with a list",
        "see stacks/regions/",
        "regions-file",
    )


def region_not_mapping(doc: YamlDocument, path: KeyPath, value: Any) -> Problem:
    return doc.problem(
        path, "a region must be a mapping of keys", "write `- code: ...` entries", "region-shape"
    )


def _leaf_paths(value: Any, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from _leaf_paths(sub, (*prefix, str(key)))
    else:
        yield prefix


def locked_keys(doc: YamlDocument, path: KeyPath, value: Any, level: str) -> list[Problem]:
    """One problem per locked key a region tries to set, naming the key."""
    owner = (
        "the national standard (stacks/standard.yaml)"
        if level == "standard"
        else "the tier profile"
    )
    root = str(path[-1])
    problems = []
    for leaf in _leaf_paths(value, (root,)):
        key = ".".join(leaf)
        problems.append(
            doc.problem(
                (*path[:-1], *leaf),
                f"sets the locked {level} key `{key}`, which is owned by {owner}",
                "remove it from the region; "
                + (
                    "a change to the standard is a reviewed change to stacks/standard.yaml "
                    "that rolls out to every region"
                    if level == "standard"
                    else "regions may only scale `overrides.host_groups.<component>.count/size`"
                ),
                f"locked-{level}-key",
            )
        )
    return problems


# --- the standard and the tier profiles ----------------------------------------------


def check_standard(standard: Standard, doc: YamlDocument) -> list[Problem]:
    problems = []
    missing = [c for c in COMPONENTS if c not in standard.components]
    if missing:
        problems.append(
            doc.problem(
                ("components",),
                f"components {missing} are not described",
                "describe every component",
                "standard-components",
            )
        )
    sources = set(COMPONENTS) | set(OUTSIDE_ENDPOINTS)
    for i, flow in enumerate(standard.flows):
        if flow.source not in sources:
            problems.append(
                doc.problem(
                    ("flows", i, "from"),
                    f"unknown flow source {flow.source!r}",
                    "use one of " + ", ".join(sorted(sources)),
                    "flow-endpoint",
                )
            )
        listens = _listens(standard, flow.destination)
        if listens is None:
            problems.append(
                doc.problem(
                    ("flows", i, "to"),
                    f"unknown flow destination {flow.destination!r}",
                    "use a component, all_hosts, or parent.<component>",
                    "flow-endpoint",
                )
            )
            continue
        for port in flow.ports:
            if port not in listens:
                problems.append(
                    doc.problem(
                        ("flows", i, "ports"),
                        f"flow {flow.name} reaches port {port}, which {flow.destination} does not listen on",
                        f"add {port} to the destination's `listens`, or drop it from the flow",
                        "flow-port",
                        port,
                    )
                )
    return problems


def _listens(standard: Standard, destination: str) -> set[int] | None:
    name = destination.removeprefix(PARENT_PREFIX)
    if name == "all_hosts" and destination == name:
        return set(standard.common.listens)
    spec = standard.components.get(name)  # type: ignore[call-overload]
    return None if spec is None else set(spec.listens) | set(standard.common.listens)


def check_tier(profile: TierProfile, expected: Tier, doc: YamlDocument) -> list[Problem]:
    problems = []
    if profile.tier != expected:
        problems.append(
            doc.problem(
                ("tier",),
                f"says tier {profile.tier.value} in the {expected.value} profile",
                f"set `tier: {expected.value}`",
                "tier-name",
                profile.tier.value,
            )
        )
    for component in COMPONENTS:
        group = profile.host_groups.get(component)  # type: ignore[call-overload]
        if group is None:
            problems.append(
                doc.problem(
                    ("host_groups",),
                    f"has no host group for {component}",
                    f"add host_groups.{component}",
                    "tier-components",
                )
            )
        elif group.count > group.max_count:
            problems.append(
                doc.problem(
                    ("host_groups", component, "count"),
                    f"count {group.count} exceeds max_count {group.max_count}",
                    "raise max_count or lower count",
                    "tier-count",
                    group.count,
                )
            )
    return problems


# --- regions ----------------------------------------------------------------------------


def wrong_extension(file: str) -> Problem:
    return Problem(
        file,
        "<document>",
        "regions files end in .yaml; this one would be ignored",
        f"rename it to {file.removesuffix('.yml')}.yaml",
        "regions-file-extension",
    )


def check_regions(
    sourced: list[SourcedRegion], tiers: dict[Tier, TierProfile], declared: set[str]
) -> list[Problem]:
    """Rules across regions. `declared` holds every code written, valid or not, so a parent
    that failed the schema is not also reported as missing."""
    problems: list[Problem] = []
    problems += _unique(sourced, "code")
    problems += _unique(sourced, "stack")
    by_code = {s.region.code: s for s in sourced}
    for s in sourced:
        problems += _code_and_parent(s, by_code, declared)
        problems += _target_settings(s)
        if "overrides" not in s.dropped:
            problems += _overrides(s, tiers)
        problems += _capacity(s, tiers)
    complete = sourced
    problems += _overlaps(
        [s for s in complete if s.region.local],
        lambda r: r.local.cidr if r.local else None,
        "local",
        "cidr",
    )
    problems += _overlaps(
        [s for s in complete if s.region.aws],
        lambda r: r.aws.vpc_cidr if r.aws else None,
        "aws",
        "vpc_cidr",
    )
    return problems


def _unique(sourced: list[SourcedRegion], key: str) -> list[Problem]:
    first: dict[str, SourcedRegion] = {}
    problems = []
    for s in sourced:
        value = getattr(s.region, key)
        if value in first:
            other = first[value]
            where = f"{other.doc.file} {format_key_path(other.path)}"
            problems.append(
                s.doc.problem(
                    (*s.path, key),
                    f"{key} {value!r} is already used by {where}",
                    f"give every region its own {key}",
                    f"{key}-unique",
                    value,
                )
            )
        else:
            first[value] = s
    return problems


def tier_of(region: Region) -> Tier | None:
    return analyse(region.code).tier


def _code_and_parent(
    s: SourcedRegion, by_code: dict[str, SourcedRegion], declared: set[str]
) -> list[Problem]:
    region, doc, path = s.region, s.doc, s.path
    facts = analyse(region.code)
    if facts.tier is None:
        return [
            doc.problem(
                (*path, "code"),
                f"code {region.code} {facts.error}",
                facts.hint or "",
                "code-format",
                region.code,
            )
        ]
    problems = []
    if region.declared_tier is not None and region.declared_tier != facts.tier:
        problems.append(
            doc.problem(
                (*path, "tier"),
                f"tier {region.declared_tier.value} disagrees with code {region.code}, which is a {facts.tier.value}",
                f"set `tier: {facts.tier.value}` or drop the key (it is derived from the code)",
                "tier-mismatch",
                region.declared_tier.value,
            )
        )
    if facts.expected_parent is None:
        if region.parent is not None:
            problems.append(
                doc.problem(
                    (*path, "parent"),
                    "a province has no parent region",
                    "remove `parent`",
                    "parent-not-allowed",
                    region.parent,
                )
            )
        return problems
    if region.parent is None:
        problems.append(
            doc.problem(
                (*path, "parent"),
                f"a {facts.tier.value} needs its parent region",
                f'add `parent: "{facts.expected_parent}"` (by GB/T 2260)',
                "parent-missing",
            )
        )
        return problems
    if region.parent != facts.expected_parent:
        problems.append(
            doc.problem(
                (*path, "parent"),
                f"parent {region.parent} does not match code {region.code}; by GB/T 2260 its parent is {facts.expected_parent}",
                f'set `parent: "{facts.expected_parent}"`',
                "parent-prefix",
                region.parent,
            )
        )
        return problems
    parent = by_code.get(region.parent)
    if parent is None and region.parent in declared:
        return problems  # the parent is written but invalid; its own problems say why
    if parent is None:
        problems.append(
            doc.problem(
                (*path, "parent"),
                f"parent {region.parent} is not a region in this configuration",
                f"add the region {region.parent} first (federation goes up to it), or fix the code",
                "parent-exists",
                region.parent,
            )
        )
        return problems
    parent_tier = analyse(parent.region.code).tier
    if parent_tier is not None and parent_tier.rank >= facts.tier.rank:
        problems.append(
            doc.problem(
                (*path, "parent"),
                f"parent {region.parent} is a {parent_tier.value}, not a higher tier",
                "point at a higher-tier region",
                "parent-tier",
                region.parent,
            )
        )
    if parent.region.target != region.target:
        problems.append(
            doc.problem(
                (*path, "target"),
                f"target {region.target} differs from its parent's ({parent.region.target}); "
                "federation needs the parent's exchange on the same target",
                f"set `target: {parent.region.target}`",
                "parent-target",
                region.target,
            )
        )
    return problems


def _target_settings(s: SourcedRegion) -> list[Problem]:
    region, doc, path = s.region, s.doc, s.path
    problems = []
    chosen, other = (
        (region.local, region.aws) if region.target == "local" else (region.aws, region.local)
    )
    other_name = "aws" if region.target == "local" else "local"
    if chosen is None and region.target not in s.dropped:
        problems.append(
            doc.problem(
                (*path, region.target),
                f"target {region.target} needs a `{region.target}:` block",
                f"add `{region.target}:` with its settings (see docs/configuration.md)",
                "target-settings",
            )
        )
    if other is not None:
        problems.append(
            doc.problem(
                (*path, other_name),
                f"`{other_name}:` settings given for a {region.target} region",
                f"remove `{other_name}:` or set `target: {other_name}`",
                "target-settings",
            )
        )
    if region.local is not None:
        problems += _network(doc, (*path, "local", "cidr"), region.local.cidr, LOCAL_PREFIX_RANGE)
    if region.aws is not None:
        aws = region.aws
        in_cn = aws.region.startswith(AWS_CN_REGION_PREFIX)
        if (aws.partition == "aws-cn") != in_cn:
            expected = (
                "a cn-* region such as cn-northwest-1"
                if aws.partition == "aws-cn"
                else "a non-China region, or set `partition: aws-cn`"
            )
            problems.append(
                doc.problem(
                    (*path, "aws", "region"),
                    f"AWS region {aws.region} is not in partition {aws.partition}",
                    f"use {expected}",
                    "aws-partition-region",
                    aws.region,
                )
            )
        problems += _network(doc, (*path, "aws", "vpc_cidr"), aws.vpc_cidr, AWS_VPC_PREFIX_RANGE)
        for i, cidr in enumerate(aws.admin_cidrs):
            if cidr.prefixlen == 0:
                problems.append(
                    doc.problem(
                        (*path, "aws", "admin_cidrs", i),
                        "administration open to the whole internet (MLPS 8.1.5.1 requires a controlled management channel)",
                        "list the administrators' networks or the bastion's address",
                        "admin-cidr-world",
                        str(cidr),
                    )
                )
    return problems


def _network(
    doc: YamlDocument, path: KeyPath, cidr: IPv4Network, prefix_range: tuple[int, int]
) -> list[Problem]:
    problems = []
    if not any(cidr.subnet_of(block) for block in RFC1918):
        problems.append(
            doc.problem(
                path,
                f"{cidr} is not a private (RFC 1918) network",
                "use a block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
                "cidr-private",
                str(cidr),
            )
        )
    low, high = prefix_range
    if not low <= cidr.prefixlen <= high:
        problems.append(
            doc.problem(
                path,
                f"{cidr} has prefix /{cidr.prefixlen}",
                f"use a prefix between /{low} and /{high}",
                "cidr-size",
                str(cidr),
            )
        )
    return problems


def _overrides(s: SourcedRegion, tiers: dict[Tier, TierProfile]) -> list[Problem]:
    tier = tier_of(s.region)
    if tier is None or tier not in tiers:
        return []
    problems = []
    for component, override in s.region.overrides.host_groups.items():
        group = tiers[tier].host_groups.get(component)
        if group is None or override.count is None:
            continue
        if not group.count <= override.count <= group.max_count:
            problems.append(
                s.doc.problem(
                    (*s.path, "overrides", "host_groups", component, "count"),
                    f"count {override.count} is outside what the {tier.value} tier allows "
                    f"({group.count} to {group.max_count})",
                    f"choose a count from {group.count} to {group.max_count}",
                    "override-bounds",
                    override.count,
                )
            )
    return problems


def _capacity(s: SourcedRegion, tiers: dict[Tier, TierProfile]) -> list[Problem]:
    """The bridge network must hold every host the region may scale to.

    The local address plan (infra/config/federation.py) reserves each component a block as large
    as the tier's max_count, so scaling never renumbers other hosts; the network must
    therefore fit the sum of the max_counts, not only today's hosts.
    """
    tier = tier_of(s.region)
    if tier is None or tier not in tiers or s.region.local is None:
        return []
    room = sum(group.max_count for group in tiers[tier].host_groups.values())
    usable = s.region.local.cidr.num_addresses - RESERVED_ADDRESSES
    if room <= usable:
        return []
    return [
        s.doc.problem(
            (*s.path, "local", "cidr"),
            f"{s.region.local.cidr} has {usable} usable addresses; the {tier.value} tier may "
            f"scale to {room} hosts",
            "use a larger network (a smaller prefix number)",
            "cidr-capacity",
            str(s.region.local.cidr),
        )
    ]


def _overlaps(
    sourced: Iterable[SourcedRegion], network_of: Any, block: str, key: str
) -> list[Problem]:
    """Report each region whose network overlaps an earlier one on the same target.

    Sorting by first address and sweeping keeps this O(n log n): a national fleet has
    thousands of regions, and comparing every pair would dominate validation time.
    """
    spans = sorted(
        (
            (int(n.network_address), int(n.broadcast_address), s)
            for s in sourced
            if (n := network_of(s.region)) is not None
        ),
        key=lambda t: (t[0], t[1]),
    )
    problems = []
    widest: tuple[int, int, SourcedRegion] | None = None
    for start, end, s in spans:
        if widest is not None and start <= widest[1]:
            other = widest[2]
            problems.append(
                s.doc.problem(
                    (*s.path, block, key),
                    f"{network_of(s.region)} overlaps {network_of(other.region)} of {other.region.stack} ({other.region.code}) on target {block}",
                    "give each region on a target its own address block",
                    "cidr-overlap",
                    str(network_of(s.region)),
                )
            )
        if widest is None or end > widest[1]:
            widest = (start, end, s)
    return problems
