"""Time `regionstack compliance diff` between two revisions of a national fleet.

    .venv/bin/python benchmarks/compliance_diff.py [--repeat N] [--json]

Builds a temporary git repository: at BASE the national fleet of
benchmarks/validate_fleet.py (3,213 regions, its generator reused), this checkout's
roles, policy pack, host tests and control catalogue; at HEAD a realistic change, all
in one commit: a tier-wide waiver for the county tier, a standard key changed
(log retention 180 -> 365 days) and a tagged task added to a role. The catalogue is this
checkout's, the whole level 3 catalogue (257 items).

Each of `--repeat` runs times `diff_command` in-process with md and with json output.
Design target: < 60 s per diff. The process exits non-zero if the diff does not report
what the change does; a slow run is reported, not failed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's infra, not the installed one

from validate_fleet import generate  # noqa: E402  (beside this file: the fleet's one generator)

from infra.compliance.diff import EXIT_WORSE, diff_command  # noqa: E402

TARGET_SECONDS = 60.0
COPIED = ("roles", "policies", "tests/hosts", "compliance/controls.yaml")
WAIVED_TIER = "county"


class BenchmarkFailed(Exception):
    pass


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=bench",
            "-c",
            "user.email=b@example.invalid",
            *args,
        ],
        check=True,
        capture_output=True,
    )


def build(repo: Path) -> dict[str, Any]:
    """BASE and HEAD commits of a national fleet in `repo`; what HEAD changes."""
    _git(repo, "init", "-q")
    fleet = generate(repo / "stacks")
    for relative in COPIED:
        source = ROOT / relative
        if source.is_dir():
            shutil.copytree(source, repo / relative, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            (repo / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, repo / relative)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "tag", "base")

    catalog = yaml.safe_load((repo / "compliance/controls.yaml").read_text(encoding="utf-8"))
    waived = next(
        c
        for c in catalog["controls"]
        # enforced on every target, so every county moves to waived
        if c["status"] == "technical"
        and c["enforced_by"].get("ansible_tags")
        and not c.get("targets")
    )
    tag = waived["enforced_by"]["ansible_tags"][0]
    waiver = {
        "waivers": [
            {
                "id": "W-2026-001",
                "control": waived["id"],
                "tier": WAIVED_TIER,
                "resources": ["*"],
                "owner": "张三 <zhang.san@example.gov.cn>",
                "approver": "李四 <li.si@example.gov.cn>",
                "ticket": "SEC-1234",
                "reason": "benchmark",
                "approved": date(2026, 12, 1),
                "expires": date(2027, 5, 30),
            }
        ]
    }
    (repo / "compliance/waivers.yaml").write_text(
        yaml.safe_dump(waiver, allow_unicode=True), encoding="utf-8"
    )
    standard = repo / "stacks/standard.yaml"
    standard.write_text(
        standard.read_text(encoding="utf-8").replace(
            "log_retention_days: 180", "log_retention_days: 365"
        ),
        encoding="utf-8",
    )
    with (repo / "roles/common/tasks/sshd.yml").open("a", encoding="utf-8") as tasks:
        tasks.write(
            f"\n- name: Log every SSH authentication attempt | {tag}\n"
            "  ansible.builtin.lineinfile: {path: /etc/ssh/sshd_config.d/99-log.conf, line: LogLevel VERBOSE, create: true}\n"
            f"  tags: [bake, {tag}]\n"
        )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "head")
    return {
        **fleet,
        "controls": len(catalog["controls"]),
        "waived_control": waived["id"],
        "task_tag": tag,
    }


def _timed_diff(repo: Path, fmt: str) -> tuple[float, int, str]:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = diff_command("base", "HEAD", [], fmt, repo)
    return time.perf_counter() - start, code, out.getvalue()


def _check(code: int, document: dict[str, Any], facts: dict[str, Any]) -> None:
    moves = {(g["control"], g["from"], g["to"]): g for g in document["moves"]}
    waived = moves.get((facts["waived_control"], "enforced", "waived"))
    if code != EXIT_WORSE or waived is None or waived["count"] != facts["counties"]:
        raise BenchmarkFailed(f"the county waiver is not reported on every county: {waived}")
    if not any(
        "config standard.log_retention_days changed" in g["reasons"] for g in document["affected"]
    ):
        raise BenchmarkFailed("the retention change is not reported")
    if not any(
        f"| {facts['task_tag']} added" in r for g in document["affected"] for r in g["reasons"]
    ):
        raise BenchmarkFailed("the added task is not reported")


def run(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="compliance-diff-bench-") as work:
        repo = Path(work)
        build_start = time.perf_counter()
        facts = build(repo)
        build_seconds = time.perf_counter() - build_start
        timings: dict[str, list[float]] = {"md": [], "json": []}
        sizes: dict[str, int] = {}
        outputs: dict[str, set[str]] = {"md": set(), "json": set()}
        for _ in range(repeat):
            for fmt in ("md", "json"):
                seconds, code, text = _timed_diff(repo, fmt)
                timings[fmt].append(seconds)
                sizes[fmt] = len(text.encode("utf-8"))
                outputs[fmt].add(text)
                if fmt == "json":
                    document = json.loads(text)
                    _check(code, document, facts)
        if any(len(texts) != 1 for texts in outputs.values()):
            raise BenchmarkFailed("two runs gave different output")
    return {
        **facts,
        "build_seconds": round(build_seconds, 2),
        "repeat": repeat,
        "seconds": {fmt: round(statistics.median(t), 2) for fmt, t in timings.items()},
        "seconds_max": {fmt: round(max(t), 2) for fmt, t in timings.items()},
        "output_bytes": sizes,
        "summary": document["summary"],
        "target_seconds": TARGET_SECONDS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    try:
        result = run(args.repeat)
    except BenchmarkFailed as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
        slowest = max(result["seconds_max"].values())
        print(
            f"{'verdict':>20}: {'within' if slowest < TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS:.0f} s target"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
