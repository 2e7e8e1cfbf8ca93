"""A machine's state dir: where it is, whose it is, and the inputs kept in it."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from infra.config.environment import DEFAULT_LOCAL_STATE
from infra.local import ownership, supervisor
from infra.local.machine.inputs import input_values

DEFAULT_STATE_ROOT = str(DEFAULT_LOCAL_STATE)
KIND = "machine"
UPPER, WORK, MERGED = "upper", "work", supervisor.MERGED


def state_dir(props: dict[str, Any]) -> Path:
    return Path(str(props["state_root"]), str(props["stack"]), "machines", str(props["name"]))


def owner(props: dict[str, Any]) -> ownership.Owner:
    return ownership.Owner(kind=KIND, stack=props["stack"], name=props["name"])


def write_file(path: Path, text: str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
    """Replace `path` in one step, already with its owner and mode."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.chown(temporary, uid, gid)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def write_config(directory: Path, props: dict[str, Any]) -> None:
    write_file(
        directory / supervisor.CONFIG_NAME,
        json.dumps(input_values(props), indent=2, sort_keys=True) + "\n",
        0o600,
    )


def recover(id_: str) -> dict[str, Any]:
    """Inputs of a machine known only by its id (`pulumi import`), from its machine.json."""
    stack, _, name = id_.partition(":")
    props = {"stack": stack, "name": name, "state_root": DEFAULT_STATE_ROOT}
    with contextlib.suppress(OSError, ValueError):
        props.update(json.loads((state_dir(props) / supervisor.CONFIG_NAME).read_text()))
    return props
