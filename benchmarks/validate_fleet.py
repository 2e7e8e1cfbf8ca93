"""Validate and render a national-scale fleet: 34 provinces, 333 cities, 2,846 counties.

    .venv/bin/python benchmarks/validate_fleet.py [--repeat N] [--json] [--profile [N]]

The fleet is generated (fixed seed, so every run measures the same bytes) next to a copy
of the sample standard and tiers in a temporary directory: every province-level prefix of
GB/T 2260 with its own regions file (`regions/<PP>-<province>.yaml`, as the samples are
laid out), the real number of prefecture-level cities per province, counties under their
city, municipal districts directly under the municipality (110105-style), and
province-administered county-level cities under their province (429004-style). Every
region targets `local` with its own /24, carved per province from 10.0.0.0/8 and
172.16.0.0/12 so the overlap rule sees both RFC 1918 blocks.

It then times, in-process, each of `--repeat` runs: `validate` of the whole directory,
`render` of the 3,213 stack files (written afresh each run) and a second `render --check`
that must find nothing stale. Design target: validate + render < 2 s. The process exits
non-zero if the generated fleet does not validate, or if a render does not do what it
must; a slow run is reported, not failed, so the figure can be tracked on any machine.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from infra.config.gbt2260 import (
    MUNICIPALITY_PREFIXES,
    PROVINCE_ADMINISTERED,
    PROVINCE_PREFIXES,
    UNSUBDIVIDED_PREFIXES,
)
from infra.config.loader import Fleet, validate
from infra.config.render import render

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "stacks"
SEED = 2260
TARGET_SECONDS = 2.0
EXPECTED = {"provinces": 34, "cities": 333, "counties": 2846}


@dataclass(frozen=True)
class Province:
    prefix: str
    slug: str
    name: str
    cities: int
    # Every county-level division of the province, province-administered ones included.
    counties: int
    province_administered: int = 0


# Prefecture-level and county-level counts follow the real divisions closely enough that
# file sizes are realistic (四川 has 205 regions, 宁夏 28); only the totals must be exact.
PROVINCES = (
    Province("11", "beijing", "北京市", 0, 16),
    Province("12", "tianjin", "天津市", 0, 16),
    Province("13", "hebei", "河北省", 11, 167),
    Province("14", "shanxi", "山西省", 11, 117),
    Province("15", "neimenggu", "内蒙古自治区", 12, 103),
    Province("21", "liaoning", "辽宁省", 14, 100),
    Province("22", "jilin", "吉林省", 9, 60),
    Province("23", "heilongjiang", "黑龙江省", 13, 121),
    Province("31", "shanghai", "上海市", 0, 16),
    Province("32", "jiangsu", "江苏省", 13, 95),
    Province("33", "zhejiang", "浙江省", 11, 90),
    Province("34", "anhui", "安徽省", 16, 104),
    Province("35", "fujian", "福建省", 9, 84),
    Province("36", "jiangxi", "江西省", 11, 100),
    Province("37", "shandong", "山东省", 16, 136),
    Province("41", "henan", "河南省", 17, 157, province_administered=1),
    Province("42", "hubei", "湖北省", 13, 103, province_administered=4),
    Province("43", "hunan", "湖南省", 14, 122),
    Province("44", "guangdong", "广东省", 21, 122),
    Province("45", "guangxi", "广西壮族自治区", 14, 111),
    Province("46", "hainan", "海南省", 4, 25, province_administered=15),
    Province("50", "chongqing", "重庆市", 0, 38),
    Province("51", "sichuan", "四川省", 21, 183),
    Province("52", "guizhou", "贵州省", 9, 88),
    Province("53", "yunnan", "云南省", 16, 129),
    Province("54", "xizang", "西藏自治区", 7, 74),
    Province("61", "shaanxi", "陕西省", 10, 107),
    Province("62", "gansu", "甘肃省", 14, 86),
    Province("63", "qinghai", "青海省", 8, 44),
    Province("64", "ningxia", "宁夏回族自治区", 5, 22),
    Province("65", "xinjiang", "新疆维吾尔自治区", 14, 110, province_administered=12),
    Province("71", "taiwan", "台湾省", 0, 0),
    Province("81", "xianggang", "香港特别行政区", 0, 0),
    Province("82", "aomen", "澳门特别行政区", 0, 0),
)

# Common characters of place names; two of them and a suffix make a plausible name.
NAME_CHARACTERS = (
    "东南西北中安平和兴昌隆泰康宁远山川河湖林田阳明新华云海江永丰德清定庆福广"
    "城台乐顺通济长吉临武文开嘉元金宝凤龙白石沙水溪源峰岭原津州县合延富怀盛"
)


def _private_blocks() -> list[IPv4Network]:
    """One /16 per province: all sixteen of 172.16.0.0/12, the rest from 10.0.0.0/8."""
    upper = list(IPv4Network("172.16.0.0/12").subnets(new_prefix=16))
    lower = IPv4Network("10.0.0.0/8").subnets(new_prefix=16)
    return list(islice(lower, len(PROVINCES) - len(upper))) + upper


@dataclass
class _ProvinceWriter:
    """Builds one province's regions file as text, laid out like the sample files."""

    province: Province
    rng: random.Random
    networks: Iterator[IPv4Network]
    counts: dict[str, int]
    blocks: list[str] = field(default_factory=list)

    def add(self, code: str, name: str, tier: str, parent: str | None) -> None:
        stack = self.province.slug if parent is None else f"{self.province.slug}-{code}"
        area = f"0{self.province.prefix}{self.rng.randint(1, 9)}"
        phone = self.rng.randint(10_000_000, 99_999_000)
        lines = [
            f'  - code: "{code}"',
            f"    name: {name}",
            f"    stack: {stack}",
            *([f'    parent: "{parent}"'] if parent else []),
            "    target: local",
            "    local:",
            f"      cidr: {next(self.networks)}",
            "    contacts:",
            f"      operations: {{name: {name}运维值班, phone: {area}-{phone}, email: ops@{stack}.example.gov.cn}}",
            f"      security: {{name: {name}安全管理员, phone: {area}-{phone + 1}, email: security@{stack}.example.gov.cn}}",
        ]
        if tier == "county" and self.rng.random() < 0.1:
            lines += [
                "    overrides:",
                "      host_groups:",
                "        # a county seat with a large population runs a second portal node",
                "        portal: {count: 2}",
            ]
        self.blocks.append("\n".join(lines) + "\n")
        self.counts[tier] += 1

    def name(self, suffix: str) -> str:
        return "".join(self.rng.choices(NAME_CHARACTERS, k=2)) + suffix

    def text(self) -> str:
        header = (
            f"# {self.province.name} and the regions below it (generated by "
            f"benchmarks/validate_fleet.py, seed {SEED}).\nregions:\n"
        )
        return header + "\n".join(self.blocks)


def _write_province(
    province: Province, rng: random.Random, block: IPv4Network, counts: dict[str, int]
) -> str:
    writer = _ProvinceWriter(province, rng, block.subnets(new_prefix=24), counts)
    prefix = province.prefix
    top = f"{prefix}0000"
    writer.add(top, province.name, "province", None)
    if prefix in MUNICIPALITY_PREFIXES:
        # 市辖区 under PP01xx, the remaining counties under PP02xx; both belong to PP0000.
        districts = province.counties - province.counties // 4
        for n in range(1, province.counties + 1):
            grouping, index = ("01", n) if n <= districts else ("02", n - districts)
            suffix = "区" if grouping == "01" else "县"
            writer.add(f"{prefix}{grouping}{index:02d}", writer.name(suffix), "county", top)
        return writer.text()
    under_cities = province.counties - province.province_administered
    for city in range(1, province.cities + 1):
        city_code = f"{prefix}{city:02d}00"
        writer.add(city_code, writer.name("市"), "city", top)
        # Round-robin: city k gets counties k, k + cities, ...; numbering starts at 02
        # because PPCC01 is the city's own 市辖区 grouping in GB/T 2260.
        for index in range(len(range(city - 1, under_cities, province.cities))):
            suffix = writer.rng.choice("县区市")
            writer.add(f"{city_code[:4]}{index + 2:02d}", writer.name(suffix), "county", city_code)
    for n in range(1, province.province_administered + 1):
        writer.add(f"{prefix}{PROVINCE_ADMINISTERED}{n:02d}", writer.name("市"), "county", top)
    return writer.text()


def generate(config_dir: Path) -> dict[str, int]:
    """Write the sample standard and tiers and a national fleet under `config_dir`."""
    assert {p.prefix for p in PROVINCES} == PROVINCE_PREFIXES
    for p in PROVINCES:
        has_cities = p.prefix not in MUNICIPALITY_PREFIXES | UNSUBDIVIDED_PREFIXES
        assert (p.cities > 0) == has_cities, p
        # Each province's /16 holds 256 /24s; county numbers stay two digits.
        assert 1 + p.cities + p.counties <= 256, p
        per_parent = -(-(p.counties - p.province_administered) // max(p.cities, 1))
        assert per_parent <= 98 and p.province_administered <= 99, p
    config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE / "standard.yaml", config_dir / "standard.yaml")
    shutil.copytree(SAMPLE / "tiers", config_dir / "tiers")
    regions_dir = config_dir / "regions"
    regions_dir.mkdir()
    rng = random.Random(SEED)
    counts = {"province": 0, "city": 0, "county": 0}
    for province, block in zip(PROVINCES, _private_blocks(), strict=True):
        text = _write_province(province, rng, block, counts)
        path = regions_dir / f"{province.prefix}-{province.slug}.yaml"
        path.write_text(text, encoding="utf-8")
    fleet = {
        "provinces": counts["province"],
        "cities": counts["city"],
        "counties": counts["county"],
    }
    assert fleet == EXPECTED, fleet
    return {**fleet, "regions": sum(fleet.values()), "region_files": len(PROVINCES)}


T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """Wall time of a step, and the process CPU it used in user space and in the kernel.

    Kernel time tells the filesystem apart from Python: creating 3,213 files costs from
    0.06 s on tmpfs to over 2 s on a busy virtual disk, for the same Python work.
    """

    wall: float
    user: float
    sys: float

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.user + other.user, self.sys + other.sys)


def timed(action: Callable[[], T]) -> tuple[Timing, T]:
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = action()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    return Timing(wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime), result


class BenchmarkFailed(Exception):
    """The generated fleet or a render did not behave as the benchmark requires."""


def _validated(config_dir: Path) -> tuple[Timing, Fleet]:
    seconds, (fleet, report) = timed(lambda: validate(config_dir))
    if fleet is None or not report.ok:
        first = "\n".join(p.to_text() for p in report.sorted()[:10])
        raise BenchmarkFailed(
            f"the generated fleet is invalid: {len(report.problems)} problem(s); the first:\n{first}"
        )
    return seconds, fleet


def _remove_stack_files(config_dir: Path) -> None:
    for path in config_dir.glob("Pulumi.*.yaml"):
        path.unlink()


def _once(config_dir: Path, regions: int) -> dict[str, Timing]:
    """One timed run from a directory without stack files."""
    _remove_stack_files(config_dir)
    validate_s, fleet = _validated(config_dir)
    if len(fleet.regions) != regions:
        raise BenchmarkFailed(f"validate returned {len(fleet.regions)} regions, not {regions}")
    render_s, first = timed(lambda: render(fleet))
    if len(first.written) != regions or first.stale or first.orphans:
        raise BenchmarkFailed(
            f"the first render wrote {len(first.written)} of {regions} files "
            f"({len(first.orphans)} orphans)"
        )
    check_s, second = timed(lambda: render(fleet, check=True))
    if second.stale or second.written or second.orphans:
        raise BenchmarkFailed(
            f"render --check after render found {len(second.stale)} stale and "
            f"{len(second.orphans)} orphan files"
        )
    return {
        "validate": validate_s,
        "render": render_s,
        "validate+render": validate_s + render_s,
        "render --check": check_s,
    }


def _profile(config_dir: Path, top: int) -> str:
    """cProfile of one validate + first render, top functions by own and cumulative time."""
    _remove_stack_files(config_dir)
    profiler = cProfile.Profile()
    profiler.enable()
    fleet, _ = validate(config_dir)
    assert fleet is not None
    render(fleet)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(pstats.SortKey.TIME).print_stats(top)
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(top)
    return out.getvalue()


def _max_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _filesystem(path: Path) -> str:
    """The type of the filesystem holding `path` (ext4, tmpfs, ...), from /proc/self/mounts."""
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "unknown"
    resolved, best, kind = path.resolve(), -1, "unknown"
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = Path(fields[1].replace("\\040", " "))
        if resolved.is_relative_to(mount_point) and len(mount_point.parts) > best:
            best, kind = len(mount_point.parts), fields[2]
    return kind


def run(repeat: int, profile_top: int = 0, keep: Path | None = None) -> dict[str, Any]:
    baseline_rss = _max_rss_mib()
    with tempfile.TemporaryDirectory(prefix="regionstack-fleet-") as tmp:
        config_dir = (keep or Path(tmp)) / "stacks"
        if config_dir.exists():
            raise BenchmarkFailed(f"{config_dir} exists already; give an empty or new --keep")
        fleet = generate(config_dir)
        runs = [_once(config_dir, fleet["regions"]) for _ in range(repeat)]
        fleet["stack_files"] = len(list(config_dir.glob("Pulumi.*.yaml")))
        filesystem = _filesystem(config_dir)
        profile = _profile(config_dir, profile_top) if profile_top else None
    seconds = {
        step: {
            "min": min(r[step].wall for r in runs),
            "median": statistics.median(r[step].wall for r in runs),
            "max": max(r[step].wall for r in runs),
            "median_user": statistics.median(r[step].user for r in runs),
            "median_sys": statistics.median(r[step].sys for r in runs),
        }
        for step in runs[0]
    }
    return {
        "fleet": fleet,
        "repeat": repeat,
        "seconds": seconds,
        "target_seconds": TARGET_SECONDS,
        "within_target": seconds["validate+render"]["median"] < TARGET_SECONDS,
        "peak_rss_mib": _max_rss_mib(),
        "baseline_rss_mib": baseline_rss,
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "filesystem": filesystem,
        },
        "profile": profile,
    }


def _table(result: dict[str, Any]) -> str:
    fleet, machine = result["fleet"], result["machine"]
    lines = [
        f"fleet: {fleet['provinces']} provinces, {fleet['cities']} cities, "
        f"{fleet['counties']} counties = {fleet['regions']} regions in "
        f"{fleet['region_files']} files; {fleet['stack_files']} stack files",
        f"{result['repeat']} runs; nproc {machine['nproc']}, Python {machine['python']}, "
        f"fleet on {machine['filesystem']}",
        "",
        f"{'step':<17}{'min s':>7}{'median s':>10}{'max s':>7}{'user s':>8}{'sys s':>7}",
    ]
    for step, s in result["seconds"].items():
        lines.append(
            f"{step:<17}{s['min']:>7.3f}{s['median']:>10.3f}{s['max']:>7.3f}"
            f"{s['median_user']:>8.3f}{s['median_sys']:>7.3f}"
        )
    verdict = "within" if result["within_target"] else "OVER"
    lines += [
        "(user s, sys s: median process CPU in Python and in the kernel)",
        "",
        f"median validate+render {result['seconds']['validate+render']['median']:.3f} s: "
        f"{verdict} the {result['target_seconds']:g} s target",
        f"peak RSS {result['peak_rss_mib']} MiB (after imports: {result['baseline_rss_mib']} MiB)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="Exits 1 if the generated fleet is invalid or a render misbehaves. "
        "Set TMPDIR to measure on another filesystem (TMPDIR=/dev/shm for tmpfs).",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=30,
        default=0,
        metavar="N",
        help="after the timed runs, cProfile one validate + render and print the top N "
        "functions by own and by cumulative time (default 30)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="generate the fleet in DIR/stacks and keep it, to inspect or run the CLI on it",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        result = run(args.repeat, args.profile, args.keep)
    except BenchmarkFailed as err:
        print(f"validate_fleet: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(_table(result))
        if result["profile"]:
            print("\n" + result["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
