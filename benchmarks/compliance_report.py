"""Time `regionstack compliance report` of the whole national fleet.

    .venv/bin/python benchmarks/compliance_report.py [--repeat N]

Generates the national fleet of benchmarks/validate_fleet.py (3,213 regions, its
generator reused) and builds the report of every region against this checkout's control
catalogue (257 items) and waivers, with no evidence recorded (the worst case for size: no
region shares a verified status), then renders it as Markdown (a pull-request comment,
cut to GitHub's limit), JSON and HTML. Prints seconds and output sizes per step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's infra, not the installed one

from validate_fleet import generate  # noqa: E402  (beside this file: the fleet's one generator)

from infra.compliance.catalog import load_catalog  # noqa: E402
from infra.compliance.render_html import render_html  # noqa: E402
from infra.compliance.render_md import render_markdown  # noqa: E402
from infra.compliance.report import build_report, render_json  # noqa: E402
from infra.compliance.waivers import WAIVERS_FILE, load_waivers  # noqa: E402
from infra.config.loader import load_fleet  # noqa: E402


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="regionstack-report-bench-") as tmp:
        config = Path(tmp) / "stacks"
        facts = generate(config)
        load_s, fleet = _timed(lambda: load_fleet(config))
        catalog, waivers = load_catalog(), load_waivers(WAIVERS_FILE)
        evidence = Path(tmp) / "evidence"  # empty: no region has proven anything yet
        times: dict[str, list[float]] = {"build": [], "md": [], "json": [], "html": []}
        sizes: dict[str, int] = {}
        for _ in range(args.repeat):
            seconds, report = _timed(
                lambda: build_report(fleet, catalog, waivers, fleet.regions, evidence)
            )
            times["build"].append(seconds)
            for name, render in (
                ("md", partial(render_markdown, report)),
                ("json", partial(render_json, report)),
                ("html", partial(render_html, report, fleet)),
            ):
                seconds, text = _timed(render)
                times[name].append(seconds)
                sizes[name] = len(text.encode("utf-8"))
    print(f"regions: {facts['regions']}, catalogue items: {len(catalog.controls)}")
    print(f"load the fleet: {load_s:.2f} s")
    for name, values in times.items():
        size = f", {sizes[name] / 1e6:.2f} MB" if name in sizes else ""
        print(f"{name:>6}: median {statistics.median(values):.2f} s (max {max(values):.2f}){size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
