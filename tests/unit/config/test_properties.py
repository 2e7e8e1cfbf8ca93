"""Properties of the whole configuration, over generated fleets.

* The effective config is a pure function of the files: loading twice, or with the regions
  listed in another order or split across other files, gives the same configs and digests.
* No key of the standard can be set by a region, at any depth, at its top level or under
  `overrides:`; each attempt is a `locked-standard-key` problem naming the key.
* Every fleet built by the rules (GB/T 2260 codes and parents with their exceptions, unique
  stacks, non-overlapping private networks, overrides within the tier's bounds, Chinese
  names) validates without a problem.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.config.effective import digest, effective_config
from infra.config.gbt2260 import (
    MUNICIPALITY_GROUPINGS,
    MUNICIPALITY_PREFIXES,
    PROVINCE_ADMINISTERED,
    PROVINCE_PREFIXES,
    UNSUBDIVIDED_PREFIXES,
    Tier,
)
from infra.config.loader import validate
from infra.config.rules import LOCAL_PREFIX_RANGE, RESERVED_ADDRESSES
from infra.config.schema import COMPONENTS, TierProfile

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "stacks"
SETTINGS = settings(max_examples=30, deadline=None)
TIERS = {
    tier: TierProfile.model_validate(
        yaml.safe_load((SAMPLE_DIR / "tiers" / f"{tier.value}.yaml").read_text(encoding="utf-8"))
    )
    for tier in Tier
}
STANDARD_DATA = yaml.safe_load((SAMPLE_DIR / "standard.yaml").read_text(encoding="utf-8"))
CONTACTS = {
    role: {"name": "运维值班", "phone": "0571-12345001", "email": f"{role}@example.gov.cn"}
    for role in ("operations", "security")
}
AWS_REGIONS = {
    "aws-cn": ["cn-north-1", "cn-northwest-1"],
    "aws": ["us-east-1", "eu-west-1", "ap-east-1", "ap-southeast-1"],
}
# Address pools that cannot overlap one another: whole /16s in 10.0.0.0/9 for the larger
# local networks, single /24s elsewhere in RFC 1918 for the rest.
LOCAL_BIG_BLOCKS = list(IPv4Network("10.0.0.0/9").subnets(new_prefix=16))
LOCAL_SMALL_BLOCKS = [
    *IPv4Network("10.128.0.0/9").subnets(new_prefix=24),
    *IPv4Network("172.16.0.0/12").subnets(new_prefix=24),
    *IPv4Network("192.168.0.0/16").subnets(new_prefix=24),
]
AWS_BLOCKS = list(IPv4Network("10.0.0.0/8").subnets(new_prefix=16))


def two_digits(
    low: int, high: int, exclude: frozenset[str] = frozenset()
) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}").filter(lambda s: s not in exclude)


def longest_local_prefix(tier: Tier) -> int:
    """The longest prefix whose network still holds every host the tier may scale to."""
    room = sum(g.max_count for g in TIERS[tier].host_groups.values())
    low, high = LOCAL_PREFIX_RANGE
    return max(p for p in range(low, high + 1) if 2 ** (32 - p) - RESERVED_ADDRESSES >= room)


# --- the shape of a fleet: codes and parents ---------------------------------------------


@dataclass
class Node:
    code: str
    tier: Tier
    parent: str | None
    target: str


@st.composite
def region_tree(draw: st.DrawFn) -> list[Node]:
    provinces = draw(
        st.lists(st.sampled_from(sorted(PROVINCE_PREFIXES)), min_size=1, max_size=3, unique=True)
    )
    nodes = []
    for province in provinces:
        target = draw(st.sampled_from(["local", "aws"]))
        top = f"{province}0000"
        nodes.append(Node(top, Tier.province, None, target))
        if province in UNSUBDIVIDED_PREFIXES:
            continue
        if province in MUNICIPALITY_PREFIXES:
            # 市辖区 PP01xx and 县 PP02xx belong directly to the municipality
            districts = draw(
                st.lists(
                    st.tuples(st.sampled_from(sorted(MUNICIPALITY_GROUPINGS)), two_digits(1, 99)),
                    max_size=3,
                    unique=True,
                )
            )
            nodes += [Node(f"{province}{g}{x}", Tier.county, top, target) for g, x in districts]
            continue
        cities = draw(
            st.lists(two_digits(1, 99, frozenset({PROVINCE_ADMINISTERED})), max_size=2, unique=True)
        )
        for city in cities:
            code = f"{province}{city}00"
            nodes.append(Node(code, Tier.city, top, target))
            counties = draw(st.lists(two_digits(1, 99), max_size=2, unique=True))
            nodes += [Node(f"{province}{city}{x}", Tier.county, code, target) for x in counties]
        direct = draw(st.lists(two_digits(1, 99), max_size=2, unique=True))
        nodes += [
            Node(f"{province}{PROVINCE_ADMINISTERED}{x}", Tier.county, top, target) for x in direct
        ]
    return nodes


# --- everything else a region says ---------------------------------------------------------

_han = st.characters(min_codepoint=0x3400, max_codepoint=0x9FFF)
# Official names are Han characters, with an interpunct only inside (never at either end).
chinese_names = st.builds(
    lambda first, middle, last: first + middle + last,
    _han,
    st.text(alphabet=st.one_of(_han, st.just("·")), max_size=6),
    _han,
)
stack_names = st.from_regex(r"\A[a-z][a-z0-9-]{1,8}[a-z0-9]\Z")


def any_network(min_prefix: int, max_prefix: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda address, prefix: str(IPv4Network((IPv4Address(address), prefix), strict=False)),
        st.integers(0, 2**32 - 1),
        st.integers(min_prefix, max_prefix),
    )


@st.composite
def overrides(draw: st.DrawFn, tier: Tier) -> dict[str, Any]:
    groups = {}
    for component in draw(st.lists(st.sampled_from(COMPONENTS), unique=True, max_size=3)):
        group = TIERS[tier].host_groups[component]
        override = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "count": st.integers(group.count, group.max_count),
                    "size": st.sampled_from(["small", "medium", "large"]),
                },
            )
        )
        if override:
            groups[component] = override
    return {"host_groups": groups} if groups else {}


def code_value(code: str, unquoted: bool) -> str | int:
    return int(code) if unquoted else code


@st.composite
def fleets(draw: st.DrawFn) -> list[dict[str, Any]]:
    """The regions of a valid fleet, in file order."""
    nodes = draw(region_tree())
    stacks = draw(st.lists(stack_names, min_size=len(nodes), max_size=len(nodes), unique=True))
    local_nodes = [n for n in nodes if n.target == "local"]
    aws_nodes = [n for n in nodes if n.target == "aws"]
    big = draw(st.lists(st.booleans(), min_size=len(local_nodes), max_size=len(local_nodes)))
    big_slots = iter(draw(st.permutations(range(len(LOCAL_BIG_BLOCKS)))))
    small_slots = iter(
        draw(
            st.lists(
                st.integers(0, len(LOCAL_SMALL_BLOCKS) - 1),
                min_size=len(local_nodes),
                max_size=len(local_nodes),
                unique=True,
            )
        )
    )
    aws_slots = iter(
        draw(
            st.lists(
                st.integers(0, len(AWS_BLOCKS) - 1),
                min_size=len(aws_nodes),
                max_size=len(aws_nodes),
                unique=True,
            )
        )
    )
    networks: dict[str, dict[str, Any]] = {}
    for node, is_big in zip(local_nodes, big, strict=True):
        if is_big:
            block = LOCAL_BIG_BLOCKS[next(big_slots)]
            prefix = draw(st.integers(16, 23))
        else:
            block = LOCAL_SMALL_BLOCKS[next(small_slots)]
            prefix = draw(st.integers(24, longest_local_prefix(node.tier)))
        networks[node.code] = {"cidr": f"{block.network_address}/{prefix}"}
    for node in aws_nodes:
        block = AWS_BLOCKS[next(aws_slots)]
        partition = draw(st.sampled_from(sorted(AWS_REGIONS)))
        networks[node.code] = {
            "partition": partition,
            "region": draw(st.sampled_from(AWS_REGIONS[partition])),
            "vpc_cidr": f"{block.network_address}/{draw(st.integers(16, 22))}",
            "admin_cidrs": draw(st.lists(any_network(1, 32), min_size=1, max_size=2)),
            "call_centre_cidrs": draw(st.lists(any_network(8, 32), min_size=1, max_size=2)),
        }
    regions = []
    for node, stack in zip(nodes, stacks, strict=True):
        unquoted = draw(st.booleans())
        region: dict[str, Any] = {
            "code": code_value(node.code, unquoted),
            "name": draw(chinese_names),
            "stack": stack,
        }
        if draw(st.booleans()):
            region["tier"] = node.tier.value
        if node.parent is not None:
            region["parent"] = code_value(node.parent, unquoted)
        region["target"] = node.target
        region[node.target] = networks[node.code]
        region["contacts"] = CONTACTS
        if extra := draw(overrides(node.tier)):
            region["overrides"] = extra
        regions.append(region)
    return regions


# --- writing a configuration ---------------------------------------------------------------


@contextmanager
def config_with(files: dict[str, list[dict[str, Any]]]) -> Iterator[Path]:
    """A config dir with the sample standard and tiers and these region files."""
    with tempfile.TemporaryDirectory() as tmp:
        config_dir = Path(tmp) / "stacks"
        shutil.copytree(SAMPLE_DIR, config_dir, ignore=shutil.ignore_patterns("regions"))
        (config_dir / "regions").mkdir()
        for name, regions in files.items():
            text = yaml.safe_dump({"regions": regions}, allow_unicode=True, sort_keys=False)
            (config_dir / "regions" / name).write_text(text, encoding="utf-8")
        yield config_dir


def split(regions: list[dict[str, Any]], assignment: list[int]) -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for region, index in zip(regions, assignment, strict=True):
        files.setdefault(f"{index:02d}-part.yaml", []).append(region)
    return files


def effective_by_stack(config_dir: Path) -> dict[str, tuple[dict[str, Any], str]]:
    fleet, report = validate(config_dir)
    assert fleet is not None, report.to_text()
    configs = {}
    for region in fleet.regions:
        config = effective_config(fleet, region)
        configs[region.stack] = (config, digest(config))
    return configs


@st.composite
def fleet_in_files(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    regions = draw(fleets())
    assignment = draw(st.lists(st.integers(0, 2), min_size=len(regions), max_size=len(regions)))
    return regions, split(regions, assignment)


# --- (c) every generated fleet is valid ----------------------------------------------------


@SETTINGS
@given(fleet_in_files())
def test_generated_fleet_validates(generated: tuple[list[dict[str, Any]], Any]) -> None:
    regions, files = generated
    with config_with(files) as config_dir:
        fleet, report = validate(config_dir)
    assert report.ok, report.to_text()
    assert fleet is not None
    assert sorted(r.stack for r in fleet.regions) == sorted(r["stack"] for r in regions)


# --- (a) the effective config is deterministic ---------------------------------------------


@SETTINGS
@given(fleet_in_files(), st.data())
def test_effective_config_ignores_order_and_file_layout(
    generated: tuple[list[dict[str, Any]], Any], data: st.DataObject
) -> None:
    regions, files = generated
    shuffled = data.draw(st.permutations(regions))
    assignment = data.draw(
        st.lists(st.integers(0, 3), min_size=len(regions), max_size=len(regions))
    )
    with config_with(files) as config_dir:
        first = effective_by_stack(config_dir)
        again = effective_by_stack(config_dir)
    with config_with(split(shuffled, assignment)) as config_dir:
        reordered = effective_by_stack(config_dir)
    assert first == again
    assert first == reordered


def sample_regions() -> list[dict[str, Any]]:
    return [
        region
        for path in sorted((SAMPLE_DIR / "regions").glob("*.yaml"))
        for region in yaml.safe_load(path.read_text(encoding="utf-8"))["regions"]
    ]


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(len(sample_regions())))), ids=str
)
def test_sample_effective_config_ignores_region_order(order: tuple[int, ...]) -> None:
    regions = sample_regions()
    with config_with({"all.yaml": [regions[i] for i in order]}) as config_dir:
        reordered = effective_by_stack(config_dir)
    assert reordered == effective_by_stack(SAMPLE_DIR)


# --- (b) no key of the standard can be overridden ------------------------------------------


@st.composite
def standard_key_paths(draw: st.DrawFn) -> tuple[tuple[str, ...], Any]:
    """A key path into the standard's data, at any depth, and a value for a region to set."""
    path: tuple[str, ...] = ()
    node: Any = STANDARD_DATA
    while isinstance(node, dict) and node and (not path or draw(st.integers(0, 3)) > 0):
        key = draw(st.sampled_from(sorted(node)))
        path, node = (*path, key), node[key]
    value = draw(st.sampled_from([node, "changed", 0, ["changed"]]))
    return path, value


def leaf_paths(value: Any, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in leaf_paths(v, (*prefix, str(k)))]
    return [prefix]


def nested(path: tuple[str, ...], value: Any) -> Any:
    for key in reversed(path[1:]):
        value = {key: value}
    return value


@SETTINGS
@given(
    standard_key_paths(),
    st.sampled_from([("33-zhejiang.yaml", 0), ("33-zhejiang.yaml", 2), ("64-ningxia.yaml", 0)]),
    st.booleans(),
)
def test_no_standard_key_can_be_set_by_a_region(
    key: tuple[tuple[str, ...], Any], where: tuple[str, int], under_overrides: bool
) -> None:
    path, value = key
    file, index = where
    with tempfile.TemporaryDirectory() as tmp:
        config_dir = Path(tmp) / "stacks"
        shutil.copytree(SAMPLE_DIR, config_dir)
        region_file = config_dir / "regions" / file
        data = yaml.safe_load(region_file.read_text(encoding="utf-8"))
        region = data["regions"][index]
        home = region.setdefault("overrides", {}) if under_overrides else region
        home[path[0]] = nested(path, value)
        region_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        fleet, report = validate(config_dir)

    base = f"regions[{index}]" + (".overrides" if under_overrides else "")
    leaves = leaf_paths(nested(path, value), (path[0],))
    assert fleet is None
    assert sorted((p.rule, p.path) for p in report.problems) == sorted(
        ("locked-standard-key", f"{base}.{'.'.join(leaf)}") for leaf in leaves
    )
    for problem, leaf in zip(
        sorted(report.problems, key=lambda p: p.path), sorted(leaves, key=".".join), strict=True
    ):
        assert f"sets the locked standard key `{'.'.join(leaf)}`" in problem.message
        assert problem.file == f"stacks/regions/{file}"
