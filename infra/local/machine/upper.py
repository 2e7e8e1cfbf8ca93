"""What makes a copy of the image this host: files written into its upper dir before
first boot (identity, address, resolver, host keys, the admin's key), each with the owner
and mode the image gives its place."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.machine.errors import MachineError
from infra.local.machine.state import UPPER, write_file

# Same name as the image's own /usr/lib/systemd/network/80-container-host0.network (DHCP),
# which this one therefore replaces instead of competing with it.
NETWORK_FILE = "etc/systemd/network/80-container-host0.network"
HOST_KEY_TYPES = (("ed25519", ()), ("rsa", ("-b", "3072")))


def lower_dirs(props: dict[str, Any]) -> list[Path]:
    """The overlay's read-only lower dirs, topmost first: the layers, then the image."""
    return [*(Path(p) for p in props.get("layers") or []), Path(props["rootfs"])]


def in_image(props: dict[str, Any], relative: str) -> Path:
    """Where `relative` comes from in the lower dirs (the topmost that has it), as the host
    sees it before it writes anything; the image's path when no layer has it."""
    for lower in lower_dirs(props):
        candidate = lower / relative
        if os.path.lexists(candidate):
            return candidate
    return Path(props["rootfs"]) / relative


@dataclass(frozen=True)
class Account:
    uid: int
    gid: int
    home: str  # inside the guest, absolute


def admin_account(props: dict[str, Any], user: str) -> Account:
    """The admin user's ids and home, from the image's /etc/passwd (not the controller's)."""
    passwd = in_image(props, "etc/passwd")
    try:
        lines = passwd.read_text().splitlines()
    except OSError as error:
        raise MachineError(f"the image has no readable {passwd}: {error}") from error
    for line in lines:
        parts = line.split(":")
        if len(parts) >= 7 and parts[0] == user:
            return Account(uid=int(parts[2]), gid=int(parts[3]), home=parts[5] or f"/home/{user}")
    raise MachineError(f"user {user!r} does not exist in {passwd}; the image must create it")


def render_hostname(props: dict[str, Any]) -> str:
    return f"{props['name']}\n"


def render_hosts(props: dict[str, Any]) -> str:
    name, fqdn = props["name"], f"{props['name']}.{props['dns_domain']}"
    return (
        "127.0.0.1\tlocalhost\n"
        f"{props['address']}\t{fqdn}\t{name}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "ff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n"
    )


def render_network(props: dict[str, Any]) -> str:
    return (
        "# The host's static address from the region's address plan (infra/local/plan.py).\n"
        "[Match]\n"
        "Name=host0\n"
        "\n"
        "[Network]\n"
        f"Address={props['address']}/{props['prefix_length']}\n"
        f"Gateway={props['gateway']}\n"
        f"DNS={props['gateway']}\n"
        f"Domains={props['dns_domain']}\n"
        "# Region networks are IPv4-only: no link-local or router-advertised addresses.\n"
        "LinkLocalAddressing=no\n"
        "IPv6AcceptRA=no\n"
    )


def render_resolv(props: dict[str, Any]) -> str:
    # No systemd-resolved in the image: this file is the resolver's whole configuration.
    return f"nameserver {props['gateway']}\nsearch {props['dns_domain']}\n"


def _mkdirs_like(
    root: Path, props: dict[str, Any], relative: str, default: tuple[int, int, int]
) -> Path:
    """Create `root/relative` and its parents, each with the owner and mode its
    counterpart has in the image (`default` (uid, gid, mode) where the image has none).

    An overlay shows a directory of the upper layer with the upper's owner and mode: a
    /home/<admin> made here as root 0755 would hide the image's <admin> 0700 one and sshd
    would then refuse the key (StrictModes).
    """
    path = root
    for part in Path(relative).parts:
        path = path / part
        if path.is_dir():
            continue
        image = in_image(props, str(path.relative_to(root)))
        try:
            st = image.lstat()
            uid, gid, mode = st.st_uid, st.st_gid, st.st_mode & 0o7777
        except OSError:
            uid, gid, mode = default
        path.mkdir()
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    return path


def write_authorized_key(root: Path, props: dict[str, Any]) -> Path:
    """Write the admin's authorized_keys under `root` (upper/ before boot, merged/ after)."""
    account = admin_account(props, props["admin_user"])
    home = account.home.lstrip("/")
    ids = (account.uid, account.gid)
    _mkdirs_like(root, props, home, (*ids, 0o700))
    ssh_dir = _mkdirs_like(root, props, f"{home}/.ssh", (*ids, 0o700))
    path = ssh_dir / "authorized_keys"
    write_file(path, f"{props['admin_public_key'].strip()}\n", 0o600, *ids)
    return path


def generate_host_keys(upper: Path, props: dict[str, Any]) -> None:
    """Fresh SSH host keys for this host, made with the controller's ssh-keygen."""
    ssh_dir = _mkdirs_like(upper, props, "etc/ssh", (0, 0, 0o755))
    running = [
        subprocess.Popen(
            [
                "ssh-keygen",
                "-q",
                "-t",
                kind,
                *extra,
                "-N",
                "",
                "-C",
                f"root@{props['name']}",
                "-f",
                str(ssh_dir / f"ssh_host_{kind}_key"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for kind, extra in HOST_KEY_TYPES
    ]  # in parallel: the RSA key takes most of a create's own time
    for process in running:
        output, _ = process.communicate()
        if process.returncode != 0:
            raise MachineError(f"ssh-keygen failed: {output.decode(errors='replace').strip()}")


def write_upper(upper: Path, props: dict[str, Any]) -> None:
    """Everything that makes a copy of the image this host, written before first boot."""
    etc = _mkdirs_like(upper, props, "etc", (0, 0, 0o755))
    write_file(etc / "hostname", render_hostname(props))
    write_file(etc / "hosts", render_hosts(props))
    write_file(etc / "machine-id", f"{uuid.uuid4().hex}\n", 0o444)
    write_file(etc / "resolv.conf", render_resolv(props))
    network = _mkdirs_like(upper, props, str(Path(NETWORK_FILE).parent), (0, 0, 0o755))
    write_file(network / Path(NETWORK_FILE).name, render_network(props))
    generate_host_keys(upper, props)
    write_authorized_key(upper, props)


def host_key(directory: Path, kind: str = "ed25519") -> str:
    return (directory / UPPER / f"etc/ssh/ssh_host_{kind}_key.pub").read_text().strip()
