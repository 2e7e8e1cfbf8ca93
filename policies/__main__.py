"""The regionstack-mlps policy pack, as the engine runs it (`--policy-pack policies`).

It judges the stack being previewed against the facts of its region, computed from the
unified configuration of the checkout this pack belongs to (`stacks/`), and exempts a
finding only through a waiver (compliance/waivers.yaml), reporting it under
`waived-resources` instead. The stack's name - its region key - is read from the URNs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The engine starts the pack with this directory first on sys.path; the project's
# packages (infra, policies) live one level up.
PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from policies.pack import build_pack  # noqa: E402

build_pack(PROJECT_DIR)
