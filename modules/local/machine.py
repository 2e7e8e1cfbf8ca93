"""A local host: an overlayfs clone of the image, booted by systemd-nspawn on the region bridge.

Per machine, under `<state_root>/<stack>/machines/<name>/` (created with its ownership
marker in one step, infra/local/ownership.py):

    upper/ work/ merged/   the overlay: the image is the read-only lowerdir, upper/ holds
                           everything this host wrote, merged/ is what nspawn boots
    machine.json           the inputs; tells the supervisor what to run
    console.log            the guest's console and the supervisor's log
    *.pid                  supervisor, nspawn and the guest's PID 1 (infra/local/supervisor.py)

Create writes the host's identity into upper/ (hostname, hosts, a fresh machine-id and SSH
host keys, its static address on `host0`, the resolver, the admin's authorized key),
mounts the overlay, starts the supervisor and returns once sshd answers on the host's
address with the host key just generated. Any failure undoes all of it: Pulumi records no
state for a failed create, so nothing would ever delete the remains.

Read reports `running` (supervisor and guest alive, each pid verified against /proc), so
`pulumi refresh` shows a machine that is down as drift and `pulumi up` powers it on again,
keeping its upper dir - like a VM that is switched back on. Delete powers the guest off
and removes processes, mounts, cgroups and the state dir; it is idempotent and never
touches a directory whose marker is not this machine's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime import rpc

from infra.config.environment import DEFAULT_LOCAL_STATE
from infra.local import cgroups, ownership, supervisor
from infra.local.mounts import read_mounts
from infra.local.proc import cmdline
from modules.props import input_props

DEFAULT_STATE_ROOT = str(DEFAULT_LOCAL_STATE)
KIND = "machine"
INPUT_KEYS = (
    "name",
    "stack",
    "address",
    "prefix_length",
    "gateway",
    "bridge",
    "rootfs",
    "layers",
    "state_root",
    "admin_user",
    "admin_public_key",
    "dns_domain",
)
# The machine's identity (name, stack, address, network) or its disk (rootfs, state_root):
# changing one is a different host, built from scratch. The old one goes first because
# the new one reuses its name, cgroups, veth and, usually, its address.
REPLACE_KEYS = (
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
)
# Who may log in is rewritten in place (authorized_keys), like any key rotation on a VM.
UPDATE_KEYS = ("admin_user", "admin_public_key")

BOOT_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = supervisor.STOP_TIMEOUT_S + 10.0  # the supervisor's own timeout, then ours
CONSOLE_TAIL_LINES = 40
POLL_S = 0.05
UNMOUNT_ATTEMPTS = 10

UPPER, WORK, MERGED = "upper", "work", supervisor.MERGED
# Same name as the image's own /usr/lib/systemd/network/80-container-host0.network (DHCP),
# which this one therefore replaces instead of competing with it.
NETWORK_FILE = "etc/systemd/network/80-container-host0.network"
HOST_KEY_TYPES = (("ed25519", ()), ("rsa", ("-b", "3072")))

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_BRIDGE = re.compile(r"^[A-Za-z0-9_-]{1,15}$")  # IFNAMSIZ
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_KEY = re.compile(r"^(ssh-|ecdsa-|sk-)[\w@.-]+ [A-Za-z0-9+/=]+( [^\n]*)?$")


@dataclass
class MachineInputs:
    name: pulumi.Input[str]  # the hostname and the nspawn machine name
    stack: pulumi.Input[str]
    address: pulumi.Input[str]
    prefix_length: pulumi.Input[int]
    gateway: pulumi.Input[str]  # the bridge's address: default route, DNS
    bridge: pulumi.Input[str]
    rootfs: pulumi.Input[str]  # the image's root, the overlay's read-only lowerdir
    admin_user: pulumi.Input[str]  # must exist in the image's /etc/passwd
    admin_public_key: pulumi.Input[str]  # one authorized_keys line
    dns_domain: pulumi.Input[str]  # `<stack>.internal`
    state_root: pulumi.Input[str] = DEFAULT_STATE_ROOT
    # Image layers above the image (infra/local/layers/), topmost first; none: the bare image.
    layers: pulumi.Input[list[str]] = field(default_factory=list)


class MachineError(RuntimeError):
    """The machine cannot be created, changed or removed as asked; the message says why."""


# --- inputs ----------------------------------------------------------------------------


def _normalize(props: dict[str, Any]) -> dict[str, Any]:
    """Pulumi carries numbers as floats: the prefix length is an int again."""
    props = dict(props)
    prefix = props.get("prefix_length")
    if isinstance(prefix, int | float):
        props["prefix_length"] = int(prefix)
    # Machines created before image layers existed have none: the same as an empty list.
    if props.get("layers") is None:
        props["layers"] = []
    return props


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {k: props[k] for k in INPUT_KEYS if k in props}


def _known(value: Any) -> bool:
    # In a preview, inputs computed by other resources (the image's rootfs, the admin
    # key) arrive as the UNKNOWN sentinel string or as pulumi.output.Unknown objects.
    return value is not None and value != rpc.UNKNOWN and not isinstance(value, Unknown)


def problems(props: dict[str, Any]) -> list[tuple[str, str]]:
    """(input, reason) for every known input that is wrong; unknowns are not judged."""
    found: list[tuple[str, str]] = []

    def want(key: str, ok: bool, reason: str) -> None:
        if _known(props.get(key)) and not ok:
            found.append((key, f"{props[key]!r}: {reason}"))

    def text(key: str) -> str:
        value = props.get(key)
        return value if isinstance(value, str) else ""

    want("name", bool(_LABEL.match(text("name"))), "must be one DNS label (a-z, 0-9, -)")
    want("stack", bool(_LABEL.match(text("stack"))), "must be one DNS label (a-z, 0-9, -)")
    want("dns_domain", bool(_DOMAIN.match(text("dns_domain"))), "must be a DNS domain")
    want("bridge", bool(_BRIDGE.match(text("bridge"))), "must be a Linux interface name")
    want("admin_user", bool(_USER.match(text("admin_user"))), "must be a Linux user name")
    want(
        "admin_public_key",
        bool(_KEY.match(text("admin_public_key"))),
        "must be one authorized_keys line",
    )
    layers = props.get("layers")
    if _known(layers):
        paths = layers if isinstance(layers, list) else [None]
        bad = [
            p
            for p in paths
            if not isinstance(p, str) or not p.startswith("/") or re.search(r"[,:\s]", p)
        ]
        want("layers", not bad, "must be absolute paths without `,`, `:` or spaces")
    for key in ("rootfs", "state_root"):
        path = text(key)
        # Both end up in the overlay's mount options, where `,` and `:` are separators.
        want(
            key,
            path.startswith("/") and not re.search(r"[,:\s]", path),
            "must be an absolute path without `,`, `:` or spaces",
        )
    prefix = props.get("prefix_length")
    want("prefix_length", isinstance(prefix, int) and 8 <= prefix <= 30, "must be 8-30")

    def parse(key: str) -> IPv4Address | None:
        try:
            return IPv4Address(text(key))
        except ValueError:
            want(key, False, "must be an IPv4 address")
            return None

    address, gateway = parse("address"), parse("gateway")
    if address and gateway and isinstance(prefix, int) and 8 <= prefix <= 30:
        network = IPv4Interface(f"{gateway}/{prefix}").network
        want(
            "address",
            address in network
            and address not in (gateway, network.network_address, network.broadcast_address),
            f"must be a host address of {network} other than the gateway",
        )
    return found


def validate(props: dict[str, Any]) -> None:
    found = problems(props)
    if found:
        raise MachineError("; ".join(f"{key} {reason}" for key, reason in found))


def state_dir(props: dict[str, Any]) -> Path:
    return Path(str(props["state_root"]), str(props["stack"]), "machines", str(props["name"]))


def owner(props: dict[str, Any]) -> ownership.Owner:
    return ownership.Owner(kind=KIND, stack=props["stack"], name=props["name"])


# --- what the host is: files in its upper dir ------------------------------------------


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


def _write(path: Path, text: str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.chown(temporary, uid, gid)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def write_authorized_key(root: Path, props: dict[str, Any]) -> Path:
    """Write the admin's authorized_keys under `root` (upper/ before boot, merged/ after)."""
    account = admin_account(props, props["admin_user"])
    home = account.home.lstrip("/")
    ids = (account.uid, account.gid)
    _mkdirs_like(root, props, home, (*ids, 0o700))
    ssh_dir = _mkdirs_like(root, props, f"{home}/.ssh", (*ids, 0o700))
    path = ssh_dir / "authorized_keys"
    _write(path, f"{props['admin_public_key'].strip()}\n", 0o600, *ids)
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
    _write(etc / "hostname", render_hostname(props))
    _write(etc / "hosts", render_hosts(props))
    _write(etc / "machine-id", f"{uuid.uuid4().hex}\n", 0o444)
    _write(etc / "resolv.conf", render_resolv(props))
    network = _mkdirs_like(upper, props, str(Path(NETWORK_FILE).parent), (0, 0, 0o755))
    _write(network / Path(NETWORK_FILE).name, render_network(props))
    generate_host_keys(upper, props)
    write_authorized_key(upper, props)


# --- mounts ----------------------------------------------------------------------------


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below `directory`, deepest first."""
    points = (Path(m.mount_point) for m in read_mounts())
    found = [p for p in points if p == directory or directory in p.parents]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def mount_overlay(directory: Path, lowers: list[Path]) -> None:
    merged = directory / MERGED
    if os.path.ismount(merged):
        return
    lowerdir = ":".join(str(p) for p in lowers)
    options = f"lowerdir={lowerdir},upperdir={directory / UPPER},workdir={directory / WORK}"
    result = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(merged)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise MachineError(f"mounting the overlay on {merged} failed: {result.stderr.strip()}")


def _umount(point: Path, *flags: str) -> bool:
    return subprocess.run(["umount", *flags, str(point)], capture_output=True).returncode == 0


def unmount_all(directory: Path) -> None:
    """Unmount everything under `directory`; lazily when still busy after retries."""
    for point in mounts_under(directory):
        for _ in range(UNMOUNT_ATTEMPTS):
            if _umount(point):
                break
            time.sleep(0.2)
        else:
            _umount(point, "--lazy")
    left = mounts_under(directory)
    if left:
        raise MachineError(f"cannot unmount {', '.join(map(str, left))}")


# --- power -----------------------------------------------------------------------------


def is_running(directory: Path, name: str) -> bool:
    """Supervisor alive and the guest's PID 1 alive under its nspawn, all pids verified."""
    return (
        supervisor.verified_supervisor(directory) is not None
        and supervisor.verified_leader(directory, name) is not None
    )


def _wait_gone(pid: int, check: Callable[[list[str]], bool], timeout: float) -> bool:
    """True once `pid` is gone or no longer passes `check` (its argv): a recycled pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not check(cmdline(pid)):
            return True
        time.sleep(POLL_S)
    return False


def power_off(directory: Path, name: str) -> None:
    """Stop the supervisor (an orderly poweroff), then anything the machine left running."""
    pid = supervisor.verified_supervisor(directory)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(
            pid, lambda argv: supervisor.is_supervisor(argv, directory), STOP_TIMEOUT_S
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    # An nspawn whose supervisor was killed runs on, orphaned: power its guest off too.
    nspawn = supervisor.verified_nspawn(directory, name)
    if nspawn is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(nspawn, signal.SIGTERM)
        if not _wait_gone(
            nspawn, lambda argv: supervisor.is_nspawn(argv, name), supervisor.STOP_TIMEOUT_S
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(nspawn, signal.SIGKILL)
    survivors = cgroups.kill_all(name)
    if survivors:
        raise MachineError(f"processes of {name} survived SIGKILL: {sorted(survivors)}")
    supervisor.remove_runtime_files(supervisor.nspawn_runtime_files(name, directory / MERGED))
    for pid_file in (supervisor.SUPERVISOR_PID, supervisor.NSPAWN_PID, supervisor.LEADER_PID):
        (directory / pid_file).unlink(missing_ok=True)


def console_tail(directory: Path, lines: int = CONSOLE_TAIL_LINES) -> str:
    """The end of the console log as plain lines: without the colours and carriage
    returns systemd writes to a terminal, which would garble an error message."""
    try:
        text = (directory / supervisor.CONSOLE_LOG).read_text(errors="replace")
    except OSError:
        return "(no console log)"
    plain = _ANSI.sub("", text).replace("\r", "")
    return "\n".join([line for line in plain.splitlines() if line.strip()][-lines:])


def journal_tail(directory: Path, lines: int = CONSOLE_TAIL_LINES) -> str:
    """The guest's own journal: the console shows what systemd started and failed, the
    journal what the failing units said."""
    journal = directory / UPPER / "var/log/journal"
    if not journal.is_dir():
        return "(no persistent journal in the upper dir)"
    result = subprocess.run(
        [
            "journalctl",
            f"--directory={journal}",
            "--no-pager",
            "-o",
            "short-monotonic",
            "-n",
            str(lines),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or result.stderr.strip()


def host_key(directory: Path, kind: str = "ed25519") -> str:
    return (directory / UPPER / f"etc/ssh/ssh_host_{kind}_key.pub").read_text().strip()


def _keyscan(address: str) -> str | None:
    result = subprocess.run(
        ["ssh-keyscan", "-T", "2", "-t", "ed25519", address],
        capture_output=True,
        text=True,
        check=False,
    )
    line = next((x for x in result.stdout.splitlines() if x and not x.startswith("#")), None)
    return " ".join(line.split()[1:3]) if line else None


def wait_for_ssh(directory: Path, props: dict[str, Any], timeout: float | None = None) -> float:
    """Seconds until sshd answers on the host's address with this host's own key.

    The key check matters: anything else answering there (a host with a clashing address)
    would otherwise pass for our machine.
    """
    timeout = BOOT_TIMEOUT_S if timeout is None else timeout
    started = time.monotonic()
    deadline = started + timeout
    address, name = props["address"], props["name"]
    expected = " ".join(host_key(directory).split()[:2])
    while time.monotonic() < deadline:
        if supervisor.verified_supervisor(directory) is None:
            raise MachineError(f"the supervisor of {name} exited while the guest booted")
        try:
            with socket.create_connection((address, 22), timeout=0.5):
                pass
        except OSError:
            time.sleep(POLL_S)
            continue
        served = _keyscan(address)
        if served == expected:
            return time.monotonic() - started
        if served is not None:
            raise MachineError(
                f"{address}:22 answers with host key {served}, not {name}'s: is the address in use?"
            )
        time.sleep(POLL_S)
    raise MachineError(f"{name} did not answer ssh on {address}:22 within {timeout:.0f} s")


def power_on(directory: Path, props: dict[str, Any]) -> float:
    """Mount the overlay, start the supervisor, wait for ssh; returns seconds to ssh."""
    mount_overlay(directory, lower_dirs(props))
    supervisor.launch(directory)
    return wait_for_ssh(directory, props)


# --- the state dir ---------------------------------------------------------------------


def write_config(directory: Path, props: dict[str, Any]) -> None:
    _write(
        directory / supervisor.CONFIG_NAME,
        json.dumps(_inputs(props), indent=2, sort_keys=True) + "\n",
        0o600,
    )


def teardown(props: dict[str, Any]) -> None:
    """Remove everything of this machine; idempotent, and copes with a half-made one.

    A state dir without this machine's marker is someone else's: nothing is touched, not
    even what its pid files name. With no state dir at all, the machine's cgroups (they
    carry its name) are still emptied and removed: a state dir removed by hand under a
    running machine leaves exactly those behind.
    """
    directory, name = state_dir(props), props["name"]
    if directory.exists() and not ownership.is_owned(directory, owner(props)):
        return
    if directory.exists():
        power_off(directory, name)
        unmount_all(directory)
    else:
        survivors = cgroups.kill_all(name)
        if survivors:
            raise MachineError(f"processes of {name} survived SIGKILL: {sorted(survivors)}")
    left = cgroups.remove(name)
    if left:
        raise MachineError(f"cannot remove the cgroups {', '.join(map(str, left))}")
    if directory.exists():
        if mounts_under(directory):  # never let rmtree walk into a mounted image
            raise MachineError(f"{directory} still has mounts")
        shutil.rmtree(directory)
    for parent in (directory.parent, directory.parent.parent):  # machines/, then <stack>/
        with contextlib.suppress(OSError):
            parent.rmdir()


def preflight(props: dict[str, Any]) -> None:
    """Refuse, before anything exists, what would only fail later."""
    rootfs = Path(props["rootfs"])
    if not (rootfs / "sbin/init").exists() and not (rootfs / "lib/systemd/systemd").exists():
        raise MachineError(f"rootfs {rootfs} has no init: is it an image root?")
    for layer in props.get("layers") or []:
        if not Path(layer).is_dir():
            raise MachineError(
                f"image layer {layer} does not exist: `regionstack image build` makes it"
            )
    admin_account(props, props["admin_user"])
    if not Path("/sys/class/net", props["bridge"], "bridge").is_dir():
        raise MachineError(
            f"bridge {props['bridge']} does not exist: the region's Network creates it"
        )
    if not cgroups.hierarchies():
        raise MachineError("no name=systemd or cgroup2 hierarchy is mounted on the controller")
    for tool in ("systemd-nspawn", "ip", "ssh-keygen", "ssh-keyscan", "mount", "journalctl"):
        if shutil.which(tool) is None:
            raise MachineError(f"{tool} is not installed on the controller")


def outputs(props: dict[str, Any], directory: Path) -> dict[str, Any]:
    upper = directory / UPPER
    return {
        **_inputs(props),
        "machine_id": (upper / "etc/machine-id").read_text().strip(),
        "ssh_host_ed25519_public_key": host_key(directory),
        "state_dir": str(directory),
        "running": is_running(directory, props["name"]),
    }


def _recover(id_: str) -> dict[str, Any]:
    """Inputs of a machine known only by its id (`pulumi import`), from its machine.json."""
    stack, _, name = id_.partition(":")
    props = {"stack": stack, "name": name, "state_root": DEFAULT_STATE_ROOT}
    with contextlib.suppress(OSError, ValueError):
        props.update(json.loads((state_dir(props) / supervisor.CONFIG_NAME).read_text()))
    return props


# --- the provider ----------------------------------------------------------------------


class MachineProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(key, reason) for key, reason in problems(_normalize(news))]
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        props = _normalize(props)
        validate(props)
        preflight(props)
        directory = state_dir(props)
        if directory.exists():
            if not ownership.is_owned(directory, owner(props)):
                raise MachineError(
                    f"{directory} exists and is not this machine's: remove or move it"
                )
            teardown(props)  # left by a killed run, unknown to Pulumi: start afresh
        ownership.create_owned_dir(directory, owner(props))
        try:
            for sub in (UPPER, WORK, MERGED):
                (directory / sub).mkdir()
            write_config(directory, props)
            write_upper(directory / UPPER, props)
            power_on(directory, props)
            outs = outputs(props, directory)
        except Exception as error:
            tail = console_tail(directory)
            journal = journal_tail(directory)
            try:
                teardown(props)
            except Exception as cleanup:
                error.add_note(f"cleaning up after the failed create also failed: {cleanup}")
            raise MachineError(
                f"creating machine {props['name']} failed: {error}\n"
                f"--- last lines of {directory / supervisor.CONSOLE_LOG} ---\n{tail}\n"
                f"--- last lines of the guest's journal ---\n{journal}"
            ) from error
        return CreateResult(id_=f"{props['stack']}:{props['name']}", outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = _normalize(props if props.get("name") else _recover(id_))
        directory = state_dir(props)
        if not ownership.is_owned(directory, owner(props)):
            return ReadResult(id_="", outs={})  # gone: refresh drops it, `up` creates it anew
        return ReadResult(id_=id_, outs=outputs(props, directory), inputs=_inputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        olds, news = _normalize(olds), _normalize(news)
        replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k)]
        updates = [k for k in UPDATE_KEYS if olds.get(k) != news.get(k)]
        # A refresh that found the machine down leaves running False: update powers it on.
        repair = olds.get("running") is False
        return DiffResult(
            changes=bool(replaces or updates or repair),
            replaces=replaces,
            delete_before_replace=True,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        olds, props = _normalize(olds), _normalize(news)
        validate(props)
        directory = state_dir(props)
        if not ownership.is_owned(directory, owner(props)):
            raise MachineError(f"{directory} is gone or not this machine's: run `pulumi refresh`")
        write_config(directory, props)
        running = is_running(directory, props["name"])
        root = directory / (MERGED if os.path.ismount(directory / MERGED) else UPPER)
        if olds.get("admin_user") not in (None, props["admin_user"]):
            with contextlib.suppress(MachineError, OSError):
                old_home = admin_account(props, olds["admin_user"]).home
                (root / old_home.lstrip("/") / ".ssh/authorized_keys").unlink(missing_ok=True)
        write_authorized_key(root, props)
        if not running:
            power_off(directory, props["name"])  # whatever half of it is still up
            power_on(directory, props)
        return UpdateResult(outs=outputs(props, directory))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        teardown(_normalize(props))


class Machine(Resource, module="local", name="Machine"):
    """A local host booted with systemd-nspawn; `running` is False after drift.

    Its type is `pulumi-python:dynamic/local:Machine`, so previews and policies can tell
    machines from the other dynamic resources.
    """

    address: pulumi.Output[str]
    machine_id: pulumi.Output[str]
    ssh_host_ed25519_public_key: pulumi.Output[str]
    state_dir: pulumi.Output[str]
    running: pulumi.Output[bool]
    layers: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: MachineInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = input_props(args)
        outs = ("machine_id", "ssh_host_ed25519_public_key", "state_dir", "running")
        super().__init__(MachineProvider(), name, {**props, **dict.fromkeys(outs)}, opts)
