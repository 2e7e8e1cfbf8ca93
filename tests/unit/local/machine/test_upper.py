"""The files that make a copy of the image one host (infra/local/machine/upper.py)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from infra.local.machine import upper as machine
from infra.local.machine.errors import MachineError
from tests.unit.local.machine.cases import ADMIN_UID, KEY, make_props


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
