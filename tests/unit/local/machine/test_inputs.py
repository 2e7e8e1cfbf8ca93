"""The machine's input checks (infra/local/machine/inputs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from infra.local.machine import inputs as machine
from tests.unit.local.machine.cases import make_props


def test_layer_paths_are_judged_like_the_rootfs(rootfs: Path) -> None:
    found = dict(machine.problems(make_props(rootfs, layers=["relative/path", "/a:b"])))
    assert "layers" in found and "absolute paths" in found["layers"]
    assert "layers" not in dict(machine.problems(make_props(rootfs, layers=["/ok/layer"])))


def test_good_inputs_have_no_problems() -> None:
    assert machine.problems(make_props()) == []


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"name": "HZ_portal"}, "name"),
        ({"address": "10.30.2.2"}, "address"),
        ({"address": "10.30.1.1"}, "address"),
        ({"address": "10.30.1.255"}, "address"),
        ({"address": "ten"}, "address"),
        ({"gateway": "x"}, "gateway"),
        ({"prefix_length": 31}, "prefix_length"),
        ({"bridge": "a-bridge-name-too-long"}, "bridge"),
        ({"rootfs": "/images/a,b"}, "rootfs"),
        ({"state_root": "relative/path"}, "state_root"),
        ({"admin_public_key": "ssh-ed25519 AAAA\nssh-rsa BBBB"}, "admin_public_key"),
        ({"dns_domain": "-bad.internal"}, "dns_domain"),
    ],
)
def test_bad_input_is_named(changes: dict[str, Any], key: str) -> None:
    assert [k for k, _ in machine.problems(make_props(**changes))] == [key]


@pytest.mark.parametrize("unknown", [rpc.UNKNOWN, Unknown()], ids=["sentinel", "object"])
def test_unknown_inputs_are_not_judged(unknown: Any) -> None:
    # A preview of a new stack sends outputs of other resources as unknowns, in both forms.
    props = make_props(admin_public_key=unknown)
    props["rootfs"] = unknown
    assert machine.problems(props) == []
