"""Validate and render a national-scale fleet: 34 provinces, 333 cities, 2,846 counties.

    .venv/bin/python benchmarks/validate_fleet.py [--repeat N] [--json]

The fleet is generated (fixed seed, so every run measures the same input) into a temporary
copy of the sample standard and tiers: every province-level prefix of GB/T 2260, cities
under the provinces that have them, counties under cities, under municipalities directly
(110105-style) and under PP90xx (429004-style), one regions file per province, each
region with its own /24. It then times, in-process, `validate` of the whole directory and
`render` of 3,213 stack files (first pass writes, second pass `--check`s). Design target:
validate + render < 2 s.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.config.gbt2260 import MUNICIPALITY_PREFIXES, PROVINCE_PREFIXES, UNSUBDIVIDED_PREFIXES  # noqa: E402
from infra.config.loader import validate  # noqa: E402
from infra.config.render import render  # noqa: E402

PROVINCES, CITIES, COUNTIES = 34, 333, 2846
PROVINCE_ADMINISTERED_PER_PROVINCE = 2  # a few PP90xx per non-municipal province
SEED = 2260
HAN = "东南西北中安平和兴昌隆泰康宁远山川河湖林田阳明新华云海江"
CONTACT = {"name": "值班员", "phone": "010-12345678", "email": "ops@example.gov.cn"}


def _name(rng: random.Random, suffix: str) -> str:
    return "".join(rng.choice(HAN) for _ in range(2)) + suffix


def _networks() -> Iterator[IPv4Network]:
    for block in (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12")):
        yield from block.subnets(new_prefix=24)


def generate(directory: Path) -> dict[str, int]:
    """Write a valid national fleet under `directory`; return the counts per tier."""
    rng = random.Random(SEED)
    shutil.copy(ROOT / "stacks" / "standard.yaml", directory / "standard.yaml")
    shutil.copytree(ROOT / "stacks" / "tiers", directory / "tiers")
    (directory / "regions").mkdir()
    networks = _networks()
    subdivided = sorted(PROVINCE_PREFIXES - UNSUBDIVIDED_PREFIXES)
    with_cities = [p for p in subdivided if p not in MUNICIPALITY_PREFIXES]
    # Spread the cities over the provinces that have cities, then the counties over every
    # parent that can hold them.
    city_counts = {p: CITIES // len(with_cities) for p in with_cities}
    for p in with_cities[: CITIES % len(with_cities)]:
        city_counts[p] += 1
    regions: dict[str, list[dict[str, Any]]] = {p: [] for p in sorted(PROVINCE_PREFIXES)}

    def region(code: str, suffix: str, parent: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "code": code,
            "name": _name(rng, suffix),
            "stack": f"r{code}",
            "target": "local",
            "local": {"cidr": str(next(networks))},
            "contacts": {"operations": CONTACT, "security": CONTACT},
        }
        if parent:
            entry["parent"] = parent
        return entry

    county_parents: list[tuple[str, str]] = []  # (province prefix, parent code)
    for prefix in sorted(PROVINCE_PREFIXES):
        regions[prefix].append(region(f"{prefix}0000", "省", None))
        if prefix in MUNICIPALITY_PREFIXES:
            county_parents.append((prefix, f"{prefix}0000"))
        for city in range(1, city_counts.get(prefix, 0) + 1):
            code = f"{prefix}{city:02d}00"
            regions[prefix].append(region(code, "市", f"{prefix}0000"))
            county_parents.append((prefix, code))
    counties = 0
    for prefix in with_cities:
        for n in range(1, PROVINCE_ADMINISTERED_PER_PROVINCE + 1):
            regions[prefix].append(region(f"{prefix}90{n:02d}", "市", f"{prefix}0000"))
            counties += 1
    used: dict[str, int] = {}
    while counties < COUNTIES:
        prefix, parent = county_parents[counties % len(county_parents)]
        used[parent] = used.get(parent, 0) + 1
        suffix = used[parent]
        base = parent[:4] if parent[2:4] != "00" else f"{prefix}01"
        regions[prefix].append(region(f"{base}{suffix:02d}", "县", parent))
        counties += 1
    for prefix, entries in regions.items():
        text = yaml.dump({"regions": entries}, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)
        (directory / "regions" / f"{prefix}.yaml").write_text(text, encoding="utf-8")
    provinces = len(PROVINCE_PREFIXES)
    cities = sum(city_counts.values())
    return {"provinces": provinces, "cities": cities, "counties": counties}


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def run(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="regionstack-fleet-") as tmp:
        directory = Path(tmp) / "stacks"
        directory.mkdir()
        counts = generate(directory)
        samples: dict[str, list[float]] = {"validate": [], "render": [], "render_check": [], "total": []}
        for _ in range(repeat):
            for stale in directory.glob("Pulumi.*.yaml"):
                stale.unlink()
            seconds, (fleet, report) = timed(lambda: validate(directory))
            if fleet is None:
                print(report.to_text()[:4000], file=sys.stderr)
                raise SystemExit("the generated fleet is invalid; see the problems above")
            render_seconds, _ = timed(partial(render, fleet))
            check_seconds, result = timed(partial(render, fleet, check=True))
            assert not result.stale, "a second render found stale files"
            samples["validate"].append(seconds)
            samples["render"].append(render_seconds)
            samples["render_check"].append(check_seconds)
            samples["total"].append(seconds + render_seconds)
        files = len(list(directory.glob("Pulumi.*.yaml")))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "fleet": {**counts, "regions": sum(counts.values()), "stack_files": files},
        "seconds": {
            k: {"min": min(v), "median": statistics.median(v), "max": max(v)} for k, v in samples.items()
        },
        "repeat": repeat,
        "peak_rss_mib": round(peak_mib, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    result = run(args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    fleet = result["fleet"]
    print(
        f"fleet: {fleet['provinces']} provinces, {fleet['cities']} cities, {fleet['counties']} counties "
        f"= {fleet['regions']} regions, {fleet['stack_files']} stack files; {result['repeat']} runs"
    )
    print(f"{'step':<14}{'min s':>8}{'median s':>10}{'max s':>8}")
    for step, s in result["seconds"].items():
        print(f"{step:<14}{s['min']:>8.3f}{s['median']:>10.3f}{s['max']:>8.3f}")
    print(f"peak RSS: {result['peak_rss_mib']} MiB (target: validate + render < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
