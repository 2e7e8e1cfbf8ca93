"""What an EC2 Image Builder build host runs to make one layer: the bake run, on itself.

The same bake as on the local target (infra/local/layers/): the site playbook with
`--tags bake -e regionstack_bake=true`, against an inventory holding only the bake vars
of infra/layers (the national standard, the target, the admin) plus where apt gets
packages; then every PER_HOST_STATE path is removed. The differences are where things run:
Ansible runs on the build host itself (connection `local`), so the repository content it
reads travels to the host as one archive in S3 (`sources`): the files the layers' digests
cover - walked exactly as the digest walks them - and one inventory per layer. An Image
Builder component's inline document is limited to 16,000 characters; the roles are not.

The build tools (a Python venv with the pinned Ansible of pyproject.toml) are removed
before the per-host state, so no layer holds them.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from infra.aws.inventory import AMAZON_TIME_SYNC, DEFAULT_DEBIAN_MIRROR, apt_sources
from infra.layers import BASE, LAYERS, PER_HOST_STATE, bake_vars, layer_of

# The same walk as the digest's (private to the recipe): the archive then holds exactly
# the bytes the digests cover, no more and no less.
from infra.layers.recipe import layer_files

WORKDIR = "/opt/regionstack-bake"  # on the build host; removed before the AMI is taken
ARCHIVE_PREFIX = "bake/"
INVENTORY_DIR = "inventory"
PYTHON = "/usr/bin/python3"
# Packages that must reach the build host's venv: the controller's own pins.
ANSIBLE_PACKAGES = ("ansible-core", "ansible")
# A pattern goes unquoted into the scrub's `for` list so the shell expands it: only
# characters that cannot split a word or start another expansion.
SAFE_PATTERN = re.compile(r"^[A-Za-z0-9_./*-]+$")


def ansible_pins(root: Path) -> list[str]:
    """`ansible-core==X` and `ansible==Y` as pinned in the repository's pyproject.toml."""
    data = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    dependencies = data["project"]["dependencies"]
    pins = [
        dep for dep in dependencies if re.split(r"[=<>!~ ]", dep, maxsplit=1)[0] in ANSIBLE_PACKAGES
    ]
    if len(pins) != len(ANSIBLE_PACKAGES):
        raise ValueError(f"pyproject.toml pins {pins}, expected one of each {ANSIBLE_PACKAGES}")
    return sorted(pins)


def source_files(root: Path) -> dict[str, Path]:
    """The repository files the bake runs read: every layer's sources."""
    files: dict[str, Path] = {}
    for layer in LAYERS:
        for source in layer.sources:
            for path in layer_files(root, source):
                files[str(path.relative_to(root))] = path
    return dict(sorted(files.items()))


def inventory_path(layer: str) -> str:
    return f"{INVENTORY_DIR}/{layer}.yml"


def bake_inventory(layer: str, standard: Mapping[str, Any], admin_user: str) -> str:
    """The inventory of a layer's bake run: the build host itself, in its component's
    group (the base layer's in none, so only the plays for every host apply)."""
    host = {"ansible_connection": "local", "ansible_python_interpreter": PYTHON}
    children = {} if layer == BASE else {layer_of(layer).name: {"hosts": {"localhost": None}}}
    document = {
        "all": {
            "hosts": {"localhost": host},
            "children": children,
            "vars": {
                **bake_vars(standard, "aws", admin_user),
                # The build host's time source and apt sources: the VPC's, as for the
                # region's hosts (infra/aws/inventory.py).
                "regionstack_gateway": AMAZON_TIME_SYNC,
                "regionstack_apt_sources": apt_sources(DEFAULT_DEBIAN_MIRROR),
            },
        }
    }
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True)


def archive_key(digests: Mapping[str, str]) -> str:
    """The archive's S3 key: named by the digests it serves, so a new checkout uploads a
    new object and a build never reads another checkout's files."""
    text = json.dumps(dict(sorted(digests.items())), separators=(",", ":"))
    return f"{ARCHIVE_PREFIX}{hashlib.sha256(text.encode()).hexdigest()[:32]}.zip"


def scrub_script() -> str:
    """Remove every PER_HOST_STATE pattern under the root (`/`, or the first argument)."""
    patterns = [state.pattern for state in PER_HOST_STATE]
    unsafe = [p for p in patterns if not SAFE_PATTERN.match(p) or p.startswith("/")]
    if unsafe:
        raise ValueError(f"per-host state patterns the shell would misread: {unsafe}")
    listed = " \\\n    ".join(patterns)
    return (
        "set -eu\n"
        "shopt -s nullglob\n"  # a pattern matching nothing expands to nothing
        'cd "${1:-/}"\n'
        f"for path in \\\n    {listed}; do\n"
        '  rm -rf --one-file-system -- "./$path"\n'
        "done\n"
    )


def _bash(name: str, script: str) -> dict[str, Any]:
    return {"name": name, "action": "ExecuteBash", "inputs": {"commands": [script]}}


def component_document(layer: str, archive_uri: str, pins: list[str]) -> str:
    """The Image Builder component (AWSTOE document) that bakes `layer` on its build host."""
    venv = f"{WORKDIR}/ansible"
    install = (
        "set -eu\n"
        "export DEBIAN_FRONTEND=noninteractive\n"
        # Remember whether the venv module was there, to leave the image as found.
        "dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q 'ok installed' "
        f"|| touch {WORKDIR}.venv-added\n"
        "apt-get update\n"
        "apt-get install -y --no-install-recommends python3-venv\n"
        f"python3 -m venv {venv}\n"
        f"{venv}/bin/pip install --no-cache-dir {' '.join(pins)}\n"
        f"python3 -m zipfile -e {WORKDIR}/sources.zip {WORKDIR}/src\n"
    )
    bake = (
        "set -eu\n"
        f"cd {WORKDIR}/src\n"
        # Mitogen is the controller's accelerator, not part of the bake.
        "export ANSIBLE_STRATEGY=linear ANSIBLE_CONFIG=ansible.cfg\n"
        f"{venv}/bin/ansible-playbook -i {inventory_path(layer)} playbooks/site.yml "
        "--tags bake -e regionstack_bake=true\n"
    )
    tools = (
        "set -eu\n"
        f"if [ -e {WORKDIR}.venv-added ]; then\n"
        "  DEBIAN_FRONTEND=noninteractive apt-get purge -y --auto-remove python3-venv\n"
        f"  rm -f {WORKDIR}.venv-added\n"
        "fi\n"
        f"rm -rf {WORKDIR}\n"
    )
    document = {
        "name": f"regionstack-bake-{layer}",
        "description": f"Bake the {layer} image layer: the site playbook's bake tasks",
        "schemaVersion": 1.0,
        "phases": [
            {
                "name": "build",
                "steps": [
                    {
                        "name": "FetchSources",
                        "action": "S3Download",
                        "inputs": [
                            {"source": archive_uri, "destination": f"{WORKDIR}/sources.zip"}
                        ],
                    },
                    _bash("InstallAnsible", install),
                    _bash("Bake", bake),
                    _bash("RemoveBuildTools", tools),
                    _bash("RemovePerHostState", scrub_script()),
                ],
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False, width=1000)
