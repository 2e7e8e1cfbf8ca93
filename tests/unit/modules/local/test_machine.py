"""The Machine resource's provider (modules/local/machine.py): input checks, the diff
decisions, and read/delete/create of state dirs that are gone or not ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.local import ownership
from infra.local.machine import inputs, lifecycle, state, upper
from infra.local.machine.errors import MachineError
from modules.local import machine
from modules.local.machine import MachineProvider
from tests.unit.local.machine.cases import make_props


def test_check_reports_failures() -> None:
    result = MachineProvider().check({}, make_props(address="10.99.0.1"))
    assert [f.property for f in result.failures] == ["address"]


def outs(**changes: Any) -> dict[str, Any]:
    return {**make_props(**changes), "machine_id": "0" * 32, "running": True}


def test_no_change() -> None:
    result = MachineProvider().diff("hz:hz-portal-1", outs(), make_props())
    assert (result.changes, result.replaces) == (False, [])


def test_prefix_length_as_float_is_no_change() -> None:
    result = MachineProvider().diff("id", outs(prefix_length=24.0), make_props())
    assert result.changes is False


@pytest.mark.parametrize("key", machine.REPLACE_KEYS)
def test_identity_or_disk_change_replaces(key: str) -> None:
    news = make_props()
    news[key] = {"prefix_length": 23, "layers": ["/other/layer"]}.get(key, f"{news[key]}x")
    result = MachineProvider().diff("id", outs(), news)
    assert (result.changes, result.replaces, result.delete_before_replace) == (True, [key], True)


def test_replace_keys_are_the_identity_and_the_disk() -> None:
    assert set(machine.REPLACE_KEYS) == {
        "name",
        "stack",
        "address",
        "prefix_length",
        "gateway",
        "bridge",
        "rootfs",
        "layers",
        "state_root",
        "dns_domain",
    }
    assert set(machine.REPLACE_KEYS) | set(machine.UPDATE_KEYS) == set(inputs.INPUT_KEYS)


@pytest.mark.parametrize(
    ("key", "value"), [("admin_public_key", "ssh-ed25519 BBBB new"), ("admin_user", "ops")]
)
def test_admin_change_is_an_update(key: str, value: str) -> None:
    result = MachineProvider().diff("id", outs(), make_props(**{key: value}))
    assert (result.changes, result.replaces) == (True, [])


def test_machine_found_down_is_repaired_by_update() -> None:
    result = MachineProvider().diff("id", {**outs(), "running": False}, make_props())
    assert (result.changes, result.replaces) == (True, [])


def test_read_of_a_vanished_machine_says_gone(tmp_path: Path) -> None:
    result = MachineProvider().read("hz:hz-portal-1", make_props(state_root=str(tmp_path)))
    assert (result.id, result.outs) == ("", {})


def test_read_returns_the_inputs_and_running_false_without_processes(
    tmp_path: Path, rootfs: Path
) -> None:
    props = make_props(rootfs, state_root=str(tmp_path))
    directory = state.state_dir(props)
    ownership.create_owned_dir(directory, state.owner(props))
    (directory / "upper").mkdir()
    upper.write_upper(directory / "upper", props)
    result = MachineProvider().read("hz:hz-portal-1", {**props, "running": True})
    assert result.id == "hz:hz-portal-1"
    assert result.inputs == props
    assert result.outs is not None
    assert result.outs["running"] is False
    assert result.outs["ssh_host_ed25519_public_key"].startswith("ssh-ed25519 ")
    assert result.outs["state_dir"] == str(directory)


def test_read_of_a_foreign_state_dir_says_gone(tmp_path: Path) -> None:
    props = make_props(state_root=str(tmp_path))
    directory = state.state_dir(props)
    ownership.create_owned_dir(directory, ownership.Owner("machine", "other", "hz-portal-1"))
    assert MachineProvider().read("hz:hz-portal-1", props).id == ""


def test_delete_is_idempotent_when_nothing_exists(tmp_path: Path) -> None:
    MachineProvider().delete("hz:hz-portal-1", make_props(state_root=str(tmp_path)))
    MachineProvider().delete("hz:hz-portal-1", make_props(state_root=str(tmp_path)))


def test_delete_never_touches_a_foreign_dir(tmp_path: Path) -> None:
    props = make_props(state_root=str(tmp_path))
    directory = state.state_dir(props)
    directory.mkdir(parents=True)
    (directory / "data").write_text("someone else's")
    MachineProvider().delete("hz:hz-portal-1", props)
    assert (directory / "data").read_text() == "someone else's"


def test_create_refuses_a_foreign_dir(
    tmp_path: Path, rootfs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "preflight", lambda _props: None)
    props = make_props(rootfs, state_root=str(tmp_path))
    directory = state.state_dir(props)
    directory.mkdir(parents=True)
    with pytest.raises(MachineError, match="is not this machine's"):
        MachineProvider().create(props)
    assert list(directory.iterdir()) == []
