"""The pure parts of the Machine resource (modules/local/machine.py) and its ownership
markers (infra/local/ownership.py): the files that make a copy of the image one host, input
checks, the diff decisions, and read/delete of state dirs that are gone or not ours."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from infra.local import ownership
from modules.local import machine
from modules.local.machine import MachineError, MachineProvider

ADMIN_UID = 1000
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx2kGq5n7sJ0 rsadmin@hz"


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in image: the passwd entry and home of the admin user, nothing else."""
    if os.geteuid() != 0:
        pytest.skip("files owned by the admin user can only be written as root")
    root = tmp_path_factory.mktemp("image") / "rootfs"
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        f"rsadmin:x:{ADMIN_UID}:{ADMIN_UID}::/home/rsadmin:/bin/bash\n"
        "nohome:x:1001:1001::/home/nohome:/bin/bash\n"
    )
    home = root / "home/rsadmin"
    (home / ".ssh").mkdir(parents=True)
    for path in (home, home / ".ssh"):
        os.chown(path, ADMIN_UID, ADMIN_UID)
        path.chmod(0o700)
    return root


def make_props(rootfs: Path | str = "/images/base/rootfs", **changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": "hz-portal-1",
        "stack": "hz",
        "address": "10.30.1.2",
        "prefix_length": 24,
        "gateway": "10.30.1.1",
        "bridge": "rs330100",
        "rootfs": str(rootfs),
        "layers": [],
        "state_root": "/var/lib/regionstack/local",
        "admin_user": "rsadmin",
        "admin_public_key": KEY,
        "dns_domain": "hz.internal",
    }
    props.update(changes)
    return props


# --- files written into the upper dir --------------------------------------------------


def test_network_file() -> None:
    assert machine.render_network(make_props()) == (
        "# The host's static address from the region's address plan (infra/local/plan.py).\n"
        "[Match]\n"
        "Name=host0\n"
        "\n"
        "[Network]\n"
        "Address=10.30.1.2/24\n"
        "Gateway=10.30.1.1\n"
        "DNS=10.30.1.1\n"
        "Domains=hz.internal\n"
        "# Region networks are IPv4-only: no link-local or router-advertised addresses.\n"
        "LinkLocalAddressing=no\n"
        "IPv6AcceptRA=no\n"
    )


def test_network_file_replaces_the_images_dhcp_one() -> None:
    assert machine.NETWORK_FILE == "etc/systemd/network/80-container-host0.network"


def test_hosts_and_resolver() -> None:
    props = make_props()
    assert "10.30.1.2\thz-portal-1.hz.internal\thz-portal-1\n" in machine.render_hosts(props)
    assert machine.render_hosts(props).startswith("127.0.0.1\tlocalhost\n")
    assert machine.render_resolv(props) == "nameserver 10.30.1.1\nsearch hz.internal\n"
    assert machine.render_hostname(props) == "hz-portal-1\n"


@pytest.fixture(scope="module")
def upper(tmp_path_factory: pytest.TempPathFactory, rootfs: Path) -> Path:
    """One host's upper dir, written once: host keys take a moment to generate."""
    directory = tmp_path_factory.mktemp("upper")
    machine.write_upper(directory, make_props(rootfs))
    return directory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("etc/hostname", "hz-portal-1\n"),
        ("etc/resolv.conf", "nameserver 10.30.1.1\nsearch hz.internal\n"),
        ("home/rsadmin/.ssh/authorized_keys", f"{KEY}\n"),
    ],
)
def test_upper_file_content(upper: Path, path: str, content: str) -> None:
    assert (upper / path).read_text() == content


def test_upper_network_file(upper: Path) -> None:
    assert (upper / machine.NETWORK_FILE).read_text() == machine.render_network(make_props())


def test_machine_id_is_random_and_valid(upper: Path, tmp_path: Path, rootfs: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    machine.write_upper(other, make_props(rootfs))
    ids = [(d / "etc/machine-id").read_text() for d in (upper, other)]
    assert all(re.fullmatch(r"[0-9a-f]{32}\n", i) for i in ids), ids
    assert ids[0] != ids[1]


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_fresh_host_keys(upper: Path, kind: str) -> None:
    private = upper / f"etc/ssh/ssh_host_{kind}_key"
    public = private.with_name(private.name + ".pub")
    assert (mode(private), private.stat().st_uid) == (0o600, 0)
    assert public.read_text().startswith("ssh-ed25519 " if kind == "ed25519" else "ssh-rsa ")
    assert public.read_text().strip().endswith("root@hz-portal-1")


def test_authorized_keys_belong_to_the_admin(upper: Path) -> None:
    home = upper / "home/rsadmin"
    keys = home / ".ssh/authorized_keys"
    assert (keys.stat().st_uid, keys.stat().st_gid, mode(keys)) == (ADMIN_UID, ADMIN_UID, 0o600)
    ssh_dir = home / ".ssh"
    assert (ssh_dir.stat().st_uid, mode(ssh_dir)) == (ADMIN_UID, 0o700)


def test_upper_dirs_keep_the_images_owner_and_mode(upper: Path, rootfs: Path) -> None:
    """An upper dir hides its image counterpart's owner and mode: they must be the same."""
    for relative in ("home", "home/rsadmin", "etc", "etc/ssh"):
        ours, image = (upper / relative).stat(), (rootfs / relative).stat()
        assert (ours.st_uid, ours.st_gid, mode(upper / relative)) == (
            image.st_uid,
            image.st_gid,
            mode(rootfs / relative),
        ), relative


def test_home_missing_in_the_image_is_made_for_the_admin(tmp_path: Path, rootfs: Path) -> None:
    directory = tmp_path / "upper2"
    directory.mkdir()
    machine.write_authorized_key(directory, make_props(rootfs, admin_user="nohome"))
    home = directory / "home/nohome"
    assert (home.stat().st_uid, mode(home)) == (1001, 0o700)
    assert (home / ".ssh/authorized_keys").stat().st_uid == 1001


def test_admin_missing_from_the_image_is_refused(rootfs: Path) -> None:
    with pytest.raises(MachineError, match="user 'ghost' does not exist"):
        machine.admin_account(make_props(rootfs), "ghost")


def test_a_layer_s_files_shadow_the_image_s(tmp_path: Path, rootfs: Path) -> None:
    layer = tmp_path / "layer"
    (layer / "etc").mkdir(parents=True)
    (layer / "etc/passwd").write_text(
        (rootfs / "etc/passwd").read_text() + "layered:x:1002:1002::/home/layered:/bin/sh\n"
    )
    props = make_props(rootfs, layers=[str(layer)])
    assert machine.lower_dirs(props) == [layer, rootfs]
    assert machine.admin_account(props, "layered").uid == 1002
    assert machine.in_image(props, "etc/hostname") == rootfs / "etc/hostname"


def test_layer_paths_are_judged_like_the_rootfs(rootfs: Path) -> None:
    found = dict(machine.problems(make_props(rootfs, layers=["relative/path", "/a:b"])))
    assert "layers" in found and "absolute paths" in found["layers"]
    assert "layers" not in dict(machine.problems(make_props(rootfs, layers=["/ok/layer"])))


def test_console_tail_is_plain_text(tmp_path: Path) -> None:
    (tmp_path / "console.log").write_text(
        "Spawning container m1.\n"
        "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mssh.service\x1b[0m.\r\r\n\r\r\n"
        "[\x1b[0;1;31mFAILED\x1b[0m] Failed to start x.service.\r\r\n"
    )
    assert machine.console_tail(tmp_path, lines=2) == (
        "[  OK  ] Started ssh.service.\n[FAILED] Failed to start x.service."
    )
    assert machine.console_tail(tmp_path / "absent") == "(no console log)"


# --- input checks --------------------------------------------------------------------


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


def test_check_reports_failures() -> None:
    result = MachineProvider().check({}, make_props(address="10.99.0.1"))
    assert [f.property for f in result.failures] == ["address"]


# --- diff ----------------------------------------------------------------------------


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
    assert set(machine.REPLACE_KEYS) | set(machine.UPDATE_KEYS) == set(machine.INPUT_KEYS)


@pytest.mark.parametrize(
    ("key", "value"), [("admin_public_key", "ssh-ed25519 BBBB new"), ("admin_user", "ops")]
)
def test_admin_change_is_an_update(key: str, value: str) -> None:
    result = MachineProvider().diff("id", outs(), make_props(**{key: value}))
    assert (result.changes, result.replaces) == (True, [])


def test_machine_found_down_is_repaired_by_update() -> None:
    result = MachineProvider().diff("id", {**outs(), "running": False}, make_props())
    assert (result.changes, result.replaces) == (True, [])


# --- read and delete of state dirs that are gone or someone else's -------------------


def test_read_of_a_vanished_machine_says_gone(tmp_path: Path) -> None:
    result = MachineProvider().read("hz:hz-portal-1", make_props(state_root=str(tmp_path)))
    assert (result.id, result.outs) == ("", {})


def test_read_returns_the_inputs_and_running_false_without_processes(
    tmp_path: Path, rootfs: Path
) -> None:
    props = make_props(rootfs, state_root=str(tmp_path))
    directory = machine.state_dir(props)
    ownership.create_owned_dir(directory, machine.owner(props))
    (directory / "upper").mkdir()
    machine.write_upper(directory / "upper", props)
    result = MachineProvider().read("hz:hz-portal-1", {**props, "running": True})
    assert result.id == "hz:hz-portal-1"
    assert result.inputs == props
    assert result.outs is not None
    assert result.outs["running"] is False
    assert result.outs["ssh_host_ed25519_public_key"].startswith("ssh-ed25519 ")
    assert result.outs["state_dir"] == str(directory)


def test_read_of_a_foreign_state_dir_says_gone(tmp_path: Path) -> None:
    props = make_props(state_root=str(tmp_path))
    directory = machine.state_dir(props)
    ownership.create_owned_dir(directory, ownership.Owner("machine", "other", "hz-portal-1"))
    assert MachineProvider().read("hz:hz-portal-1", props).id == ""


def test_delete_is_idempotent_when_nothing_exists(tmp_path: Path) -> None:
    MachineProvider().delete("hz:hz-portal-1", make_props(state_root=str(tmp_path)))
    MachineProvider().delete("hz:hz-portal-1", make_props(state_root=str(tmp_path)))


def test_delete_never_touches_a_foreign_dir(tmp_path: Path) -> None:
    props = make_props(state_root=str(tmp_path))
    directory = machine.state_dir(props)
    directory.mkdir(parents=True)
    (directory / "data").write_text("someone else's")
    MachineProvider().delete("hz:hz-portal-1", props)
    assert (directory / "data").read_text() == "someone else's"


def test_create_refuses_a_foreign_dir(
    tmp_path: Path, rootfs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(machine, "preflight", lambda _props: None)
    props = make_props(rootfs, state_root=str(tmp_path))
    directory = machine.state_dir(props)
    directory.mkdir(parents=True)
    with pytest.raises(MachineError, match="is not this machine's"):
        MachineProvider().create(props)
    assert list(directory.iterdir()) == []


# --- ownership markers ---------------------------------------------------------------

OWNER = ownership.Owner(kind="machine", stack="hz", name="hz-portal-1")


def test_marker_round_trip(tmp_path: Path) -> None:
    ownership.write_marker(tmp_path, OWNER)
    assert ownership.read_marker(tmp_path) == OWNER
    assert ownership.is_owned(tmp_path, OWNER)


@pytest.mark.parametrize(
    "other",
    [
        ownership.Owner("machine", "hz2", "hz-portal-1"),
        ownership.Owner("machine", "hz", "hz-portal-2"),
        ownership.Owner("network", "hz", "hz-portal-1"),
    ],
)
def test_marker_of_another_owner_is_not_ours(tmp_path: Path, other: ownership.Owner) -> None:
    ownership.write_marker(tmp_path, other)
    assert not ownership.is_owned(tmp_path, OWNER)


def test_missing_or_garbled_marker_is_not_ours(tmp_path: Path) -> None:
    assert ownership.read_marker(tmp_path) is None
    ownership.marker_path(tmp_path).write_text("{not json")
    assert ownership.read_marker(tmp_path) is None
    assert not ownership.is_owned(tmp_path, OWNER)


def test_owned_dir_appears_with_its_marker(tmp_path: Path) -> None:
    directory = tmp_path / "a/b/hz-portal-1"
    ownership.create_owned_dir(directory, OWNER)
    assert ownership.is_owned(directory, OWNER)
    assert sorted(p.name for p in directory.parent.iterdir()) == ["hz-portal-1"]


def test_owned_dir_refuses_an_existing_dir(tmp_path: Path) -> None:
    directory = tmp_path / "hz-portal-1"
    directory.mkdir()
    with pytest.raises(FileExistsError):
        ownership.create_owned_dir(directory, OWNER)
    assert not ownership.is_owned(directory, OWNER)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hz-portal-1"]
