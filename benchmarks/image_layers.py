"""Time the image layers: a full build from the base image, a build that finds everything
cached, and the rebuild after one role changes.

    source scripts/env.sh && python benchmarks/image_layers.py [--role portal] [--json]

Runs on a throwaway copy of the checkout's roles and a throwaway layer cache, so the
operator's cached layers are neither used nor touched; the base image and the gateways'
apt cache are the controller's (warm after their first use: say so when you report a
figure). Three steps, each timed:

1. full: every layer, from the base image, into the empty cache;
2. unchanged: the same checkout again — every layer found, nothing built;
3. one role changed: a comment line appended to `roles/<role>/tasks/main.yml` of the copy
   — only that role's layer is rebuilt (the step names what it built, so a figure is
   kept only for the rebuild the content addressing promises).

Run it alone: a build uses the fixed build network (`rsbake`) of infra/local/layers/.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.config.loader import load_fleet  # noqa: E402
from infra.layers import LAYERS  # noqa: E402
from infra.local.layers.build import ensure_layers  # noqa: E402
from infra.sandbox import copy_project  # noqa: E402


def _timed_build(root: Path, cache: Path) -> tuple[float, list[str]]:
    """Seconds to ensure every layer, and the names of the layers this call built."""
    before = {p.name for p in (cache / "layers").glob("*")} if cache.exists() else set()
    fleet = load_fleet(root / "stacks")
    start = time.perf_counter()
    ensure_layers(root, fleet.standard, fleet.standard_data, cache_dir=cache)
    elapsed = time.perf_counter() - start
    after = {p.name for p in (cache / "layers").glob("*") if not p.name.startswith(".")}
    built = sorted(name.rsplit("-", 1)[0] for name in after - before)
    return elapsed, built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    roles = [layer.role for layer in LAYERS if layer.parent is not None]
    parser.add_argument("--role", default="portal", choices=roles, help="the role to change")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="regionstack-layers-bench-") as tmp:
        directory = Path(tmp)
        root, cache = copy_project(directory / "checkout"), directory / "cache"
        figures: dict[str, object] = {}
        figures["full_s"], figures["full_built"] = _timed_build(root, cache)
        figures["unchanged_s"], figures["unchanged_built"] = _timed_build(root, cache)
        tasks = root / "roles" / args.role / "tasks" / "main.yml"
        tasks.write_text(tasks.read_text(encoding="utf-8") + "# benchmark: one role changed\n")
        figures["one_role_s"], figures["one_role_built"] = _timed_build(root, cache)
        figures["role"] = args.role
    expected = [layer.name for layer in LAYERS if layer.role == args.role]
    if figures["unchanged_built"] or figures["one_role_built"] != expected:
        print(f"unexpected rebuilds: {figures}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"full build from the base image: {figures['full_s']:.0f} s")
        print(f"unchanged checkout:             {figures['unchanged_s']:.2f} s (nothing built)")
        print(f"after a change of {args.role}:  {figures['one_role_s']:.0f} s (built {expected})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
