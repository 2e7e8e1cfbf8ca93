"""The base image of every local machine: a cached debootstrap of Debian, built from a recipe.

The recipe (packages and post-build steps) is data; its digest names the cached image, so
an image is rebuilt exactly when the recipe changes and is shared by every region on the
controller. The mirror is not part of the recipe: it comes from the controller's own apt
configuration, and any mirror gives the same image.

Cache layout (``${REGIONSTACK_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/regionstack}/images``)::

    base-<digest12>/rootfs/         the root, the read-only overlayfs lowerdir of machines
    base-<digest12>/image.tar       the same root as a tarball, to move or restore it
    base-<digest12>/manifest.json   recipe, digest, build time, sizes, package versions
    .lock                           serializes builds (two `pulumi up` may both ask)
    .build-* .old-* .restore-*      work dirs; never complete, removed by the next build

A build happens in a work dir next to the images and becomes ``base-<digest12>`` by one
rename, so an interrupted build leaves nothing that looks complete. Each host gets its own
SSH host keys, machine-id, hostname, resolver and apt sources when it is created; the image
carries none of them.
"""

from __future__ import annotations

import dataclasses
import fcntl
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.mounts import MOUNTINFO, Mount, read_mounts

ADMIN_USER = "rsadmin"

# Bump whenever the post-build code below changes what it writes into the image: the
# digest then changes and every controller rebuilds instead of reusing an outdated image.
RECIPE_VERSION = 1

MIN_FREE_BYTES = 2 * 1024**3  # debs + rootfs + tarball of one build, with room to spare
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
APT_ETC = Path("/etc/apt")

IMAGE_PREFIX = "base-"
ROOTFS, TARBALL, MANIFEST = "rootfs", "image.tar", "manifest.json"
LOCK_NAME = ".lock"
WORK_PREFIXES = (".build-", ".old-", ".restore-")

PACKAGES = (
    "systemd",
    "systemd-sysv",  # /sbin/init, so `systemd-nspawn --boot` finds an init
    "dbus",  # systemctl, logind and hostnamed talk over the system bus
    "openssh-server",  # Ansible and operators reach hosts only over ssh
    "python3",  # Ansible modules run on the host
    "iproute2",  # `ip` for diagnostics and the network facts Ansible gathers
    "ca-certificates",  # TLS to the region's services and the apt proxy
    "sudo",  # the admin user becomes root through sudo (root login is off)
)

ENABLED_UNITS = (
    "systemd-networkd.service",  # host addresses come from a .network file written per host
    "ssh.service",  # the only way in (openssh-server enables it; stated so it stays so)
)

MASKED_UNITS = (
    # A container has no virtual terminals (no /dev/tty0): this getty can never start, and
    # masked it is not even pulled in and skipped on every boot.
    "getty@tty1.service",
    # Machines boot with --console=passive: nobody reads the console and every login goes
    # over ssh, so a getty there would only cost an agetty process per host.
    "console-getty.service",
    # Not masked, because not installed: systemd-resolved (the region gateway serves DNS)
    # and systemd-timesyncd (the chrony role keeps region-internal time).
)

# Relative to the root. Each is set per host at create time, or would tie the image to
# the controller or mirror that built it.
SCRUBBED_PATHS = (
    "etc/ssh/ssh_host_*",  # each host gets its own host keys
    "etc/hostname",  # debootstrap copies the controller's; nspawn names the machine
    "etc/resolv.conf",  # debootstrap copies the controller's; hosts resolve via the gateway
    "etc/apt/sources.list",  # names the build mirror; hosts use the gateway's apt proxy
    "var/lib/apt/lists/*",  # the build mirror's indexes, stale as soon as built
    "var/cache/apt/*.bin",
    "var/cache/apt/archives/*.deb",
)

SSHD_DROP_IN = "etc/ssh/sshd_config.d/10-regionstack.conf"
SSHD_SETTINGS = (  # keys only, no root login (MLPS 8.1.4.1, 8.1.4.2)
    ("PasswordAuthentication", "no"),
    ("KbdInteractiveAuthentication", "no"),
    ("PermitRootLogin", "no"),
    ("PubkeyAuthentication", "yes"),
)

_DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf", "ppc64le": "ppc64el"}
_CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "HOME": "/root",
    "DEBIAN_FRONTEND": "noninteractive",
}

Progress = Callable[[str], None]


def print_progress(message: str) -> None:
    print(f"[image] {message}", file=sys.stderr, flush=True)


def host_architecture() -> str:
    machine = platform.machine()
    return _DEBIAN_ARCH.get(machine, machine)


@dataclass(frozen=True)
class ImageRecipe:
    """Everything that decides what is in the image (and nothing that does not)."""

    suite: str = "bookworm"
    variant: str = "minbase"
    components: tuple[str, ...] = ("main",)
    architecture: str = dataclasses.field(default_factory=host_architecture)
    packages: tuple[str, ...] = PACKAGES
    enabled_units: tuple[str, ...] = ENABLED_UNITS
    masked_units: tuple[str, ...] = MASKED_UNITS
    scrubbed_paths: tuple[str, ...] = SCRUBBED_PATHS
    admin_user: str = ADMIN_USER
    admin_uid: int = 1000
    admin_groups: tuple[str, ...] = ("sudo",)
    sshd_settings: tuple[tuple[str, str], ...] = SSHD_SETTINGS

    def canonical(self) -> dict[str, Any]:
        """The recipe as JSON-ready data; order-free lists are sorted (same set, same image)."""
        data = dataclasses.asdict(self)
        for key in (
            "components",
            "packages",
            "enabled_units",
            "masked_units",
            "scrubbed_paths",
            "admin_groups",
        ):
            data[key] = sorted(data[key])
        data["sshd_settings"] = [list(pair) for pair in self.sshd_settings]  # order matters
        return data


DEFAULT_RECIPE = ImageRecipe()


def recipe_digest(recipe: ImageRecipe = DEFAULT_RECIPE) -> str:
    payload = {"recipe_version": RECIPE_VERSION, "recipe": recipe.canonical()}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def image_name(digest: str) -> str:
    return f"{IMAGE_PREFIX}{digest[:12]}"


# --- errors -------------------------------------------------------------------------------


class ImageError(Exception):
    """The image could not be built, restored or pruned; the message says why."""


class ImagePreflightError(ImageError):
    """The controller cannot build images yet; the message says what to do."""


class ImageInUseError(ImageError):
    """Some images were kept because machines use them; `removed` lists what did go."""

    def __init__(self, message: str, removed: Sequence[Path] = ()) -> None:
        super().__init__(message)
        self.removed = list(removed)


# --- the mirror ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MirrorConfig:
    uri: str
    proxy: str | None = None


@dataclass(frozen=True)
class AptSource:
    origin: str  # file, and line or stanza, for messages
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


_SUPPORTED_SCHEMES = ("http://", "https://", "file:")


def parse_deb822_sources(text: str, origin: str) -> list[AptSource]:
    """The `deb` entries of a deb822 `.sources` file, skipping `Enabled: no` stanzas."""
    sources = []
    for number, stanza in enumerate(re.split(r"\n\s*\n", text), start=1):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if line[0] in " \t" and key is not None:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() in ("no", "false", "0"):
            continue
        for uri in fields.get("uris", "").split():
            sources.append(
                AptSource(
                    f"{origin} stanza {number}",
                    uri,
                    tuple(fields.get("suites", "").split()),
                    tuple(fields.get("components", "").split()),
                )
            )
    return sources


def parse_legacy_sources(text: str, origin: str) -> list[AptSource]:
    """The `deb` lines of a one-line-style `sources.list`."""
    sources = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        line = re.sub(r"\[[^\]]*\]", " ", line)  # options such as [signed-by=…]
        words = line.split()
        if len(words) < 3 or words[0] != "deb":
            continue
        sources.append(
            AptSource(f"{origin} line {number}", words[1], (words[2],), tuple(words[3:]))
        )
    return sources


def parse_apt_proxy(dump: str, uri: str) -> str | None:
    """The HTTP proxy apt would use for `uri`, from `apt-config dump` output."""
    values: dict[str, str] = {}
    for match in re.finditer(r'^(Acquire::http::Proxy(?:::[^ ]+)?) "(.*)";$', dump, re.MULTILINE):
        values[match.group(1).lower()] = match.group(2)
    host = re.sub(r"^[a-z+]+://([^/:]+).*$", r"\1", uri)
    value = values.get(f"acquire::http::proxy::{host.lower()}", values.get("acquire::http::proxy"))
    if not value or value.upper() == "DIRECT" or value.lower() == "false":
        return None
    return value


def _apt_source_files(apt_etc: Path) -> list[Path]:
    """In apt's own reading order: sources.list, then sources.list.d/ alphabetically."""
    files = [apt_etc / "sources.list"]
    parts = apt_etc / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    return [f for f in files if f.is_file()]


def find_mirror(sources: Sequence[AptSource], suite: str, component: str = "main") -> str | None:
    for source in sources:
        if (
            suite in source.suites
            and component in source.components
            and source.uri.startswith(_SUPPORTED_SCHEMES)
        ):
            return source.uri.rstrip("/")
    return None


def _apt_config_dump() -> str:
    try:
        result = subprocess.run(
            ["apt-config", "dump"], capture_output=True, text=True, check=False, timeout=30
        )
    except FileNotFoundError:
        return ""
    return result.stdout


def _controller_sources(apt_etc: Path) -> list[AptSource]:
    sources: list[AptSource] = []
    for path in _apt_source_files(apt_etc):
        text = path.read_text(encoding="utf-8", errors="replace")
        parse = parse_deb822_sources if path.suffix == ".sources" else parse_legacy_sources
        sources += parse(text, str(path))
    return sources


def controller_mirror(
    suite: str = DEFAULT_RECIPE.suite,
    *,
    apt_etc: Path = APT_ETC,
    apt_config_dump: Callable[[], str] = _apt_config_dump,
) -> MirrorConfig:
    """The Debian mirror (and proxy) the controller's apt uses for `suite` main."""
    uri = find_mirror(_controller_sources(apt_etc), suite)
    if uri is None:
        looked = ", ".join(str(p) for p in _apt_source_files(apt_etc)) or "no source files"
        raise ImagePreflightError(
            f"no apt source for '{suite}' component main on this controller (looked at {looked} "
            f"under {apt_etc}); add one, e.g. a deb822 stanza in {apt_etc}/sources.list.d/"
            f"debian.sources with 'Types: deb', 'URIs: <your Debian mirror>', 'Suites: {suite}', "
            "'Components: main', then run `apt-get update` to check it works"
        )
    return MirrorConfig(uri, parse_apt_proxy(apt_config_dump(), uri))


def controller_security_mirror(
    suite: str = DEFAULT_RECIPE.suite, *, apt_etc: Path = APT_ETC
) -> str | None:
    """The security archive the controller's apt uses for `<suite>-security`, if any."""
    return find_mirror(_controller_sources(apt_etc), f"{suite}-security")


# --- the cache ----------------------------------------------------------------------------


def cache_root(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("REGIONSTACK_CACHE_DIR"):
        return Path(env["REGIONSTACK_CACHE_DIR"])
    xdg = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(xdg) / "regionstack"


def images_dir(env: Mapping[str, str] = os.environ) -> Path:
    return cache_root(env) / "images"


def _is_within(path: str, root: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real == root or root in real.parents


def mounts_using(directory: Path, mountinfo: Path = MOUNTINFO) -> list[Mount]:
    """Mounts that would break if `directory` went: overlays on it, and mounts inside it."""
    root = Path(os.path.realpath(directory))
    return [
        m
        for m in read_mounts(mountinfo)
        if any(_is_within(lower, root) for lower in m.lowerdirs) or _is_within(m.mount_point, root)
    ]


def _describe_use(name: str, users: Sequence[Mount]) -> str:
    where = "; ".join(
        f"the {u.fstype} at {u.mount_point} (mount id {u.mount_id})"
        + (" has it as lowerdir" if u.lowerdirs else " is mounted inside it")
        for u in users
    )
    return f"{name} is in use: {where}; destroy or stop the machines on it first"


@dataclass(frozen=True)
class ImageInfo:
    name: str
    digest: str  # the full digest from the manifest, or the short one of the dir name
    path: Path
    current: bool
    complete: bool  # has a readable manifest
    size_bytes: int
    built_at: str | None
    in_use_by: tuple[str, ...]  # mount points of the mounts using it


def _disk_usage(path: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def _read_manifest(image_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((image_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def image_status(
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    cache_dir: Path | None = None,
    mountinfo: Path = MOUNTINFO,
) -> list[ImageInfo]:
    """Every cached image, current (built from `recipe`) or stale, oldest first."""
    directory = cache_dir or images_dir()
    if not directory.is_dir():
        return []
    current = recipe_digest(recipe)
    infos = []
    for path in sorted(directory.glob(f"{IMAGE_PREFIX}*")):
        manifest = _read_manifest(path)
        short = path.name.removeprefix(IMAGE_PREFIX)
        digest = str(manifest["digest"]) if manifest else short
        complete = manifest is not None and digest.startswith(short)
        if complete and manifest is not None:
            size = int(manifest.get("rootfs_bytes", 0)) + int(manifest.get("tar_bytes", 0))
            built_at = str(manifest.get("built_at"))
        else:
            size, built_at = _disk_usage(path), None
        users = tuple(m.mount_point for m in mounts_using(path, mountinfo))
        infos.append(
            ImageInfo(
                path.name,
                digest,
                path,
                complete and digest == current,
                complete,
                size,
                built_at,
                users,
            )
        )
    return sorted(infos, key=lambda i: (i.built_at or "", i.name))


# --- locking and removal ------------------------------------------------------------------


@contextmanager
def _build_lock(directory: Path, progress: Progress) -> Iterator[int]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another image build ({directory / LOCK_NAME})…")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _unmount_within(path: Path, mountinfo: Path = MOUNTINFO) -> None:
    """Detach what an interrupted build left mounted inside its work dir (debootstrap's /proc)."""
    root = Path(os.path.realpath(path))
    inside = [m.mount_point for m in read_mounts(mountinfo) if _is_within(m.mount_point, root)]
    for point in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        _unmount_within(path)
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _work_dirs(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith(WORK_PREFIXES))


def prune_images(
    keep_current: bool = True,
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    cache_dir: Path | None = None,
    mountinfo: Path = MOUNTINFO,
    progress: Progress = print_progress,
) -> list[Path]:
    """Remove stale images (all with keep_current=False) and leftover work dirs.

    An image that a mounted overlay uses as lowerdir is kept; the others still go, then
    ImageInUseError names the kept ones and the mounts using them.
    """
    directory = cache_dir or images_dir()
    if not directory.is_dir():
        return []
    removed: list[Path] = []
    refused: list[str] = []
    with _build_lock(directory, progress):
        for work in _work_dirs(directory):
            _remove_tree(work)
            removed.append(work)
        for info in image_status(recipe, cache_dir=directory, mountinfo=mountinfo):
            if info.current and keep_current:
                continue
            users = mounts_using(info.path, mountinfo)
            if users:
                refused.append(_describe_use(info.name, users))
                continue
            _remove_tree(info.path)
            removed.append(info.path)
    if refused:
        raise ImageInUseError("not removed: " + " | ".join(refused), removed)
    return removed


# --- building -----------------------------------------------------------------------------


def _existing_dir(path: Path) -> Path:
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def preflight(cache_dir: Path) -> None:
    """Raise ImagePreflightError saying what to do if this controller cannot build."""
    if os.geteuid() != 0:
        raise ImagePreflightError(
            "building the base image needs root (debootstrap, chroot, device nodes): "
            "run it as root, e.g. `sudo -E regionstack image build`"
        )
    if shutil.which("debootstrap") is None:
        raise ImagePreflightError(
            "debootstrap is not installed: run `apt-get install debootstrap` "
            "(scripts/setup.sh installs it)"
        )
    if not DEBIAN_KEYRING.is_file():
        raise ImagePreflightError(
            f"{DEBIAN_KEYRING} is missing, so debootstrap cannot verify the mirror: "
            "run `apt-get install debian-archive-keyring`"
        )
    existing = _existing_dir(cache_dir)
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise ImagePreflightError(
            f"only {free / 1024**3:.1f} GiB free on the filesystem of {existing}; an image build "
            f"needs {MIN_FREE_BYTES / 1024**3:.0f} GiB: free some space (`regionstack image prune` "
            "removes stale images) or set REGIONSTACK_CACHE_DIR to a larger filesystem"
        )


class DebootstrapProgress:
    """Condenses debootstrap's hundreds of `I:` lines into one line per phase."""

    # (pattern of an `I:` message, phase it starts); "" keeps the current phase.
    _PHASES = (
        (r"(Retrieving|Validating) (InRelease|Release|Packages)\b", "fetching the package index"),
        (r"(Checking|Valid) Release signature", ""),
        (r"Resolving dependencies", "resolving dependencies"),
        (r"Found |Checking component", ""),
        (r"Retrieving |Validating ", "retrieving packages"),
        (r"Chosen extractor|Extracting ", "extracting packages"),
        (r"Installing core packages", "installing core packages"),
        (r"Unpacking required packages", "unpacking required packages"),
        (r"Configuring required packages", "configuring required packages"),
        (r"Unpacking the base system", "unpacking the other packages"),
        (r"Configuring the base system", "configuring the other packages"),
        (r"Unpacking |Configuring ", ""),
        (r"Base system installed", "base system installed"),
    )

    def __init__(self) -> None:
        self.phase: str | None = None
        self.retrieved = 0
        self.tail: list[str] = []

    def feed(self, line: str) -> str | None:
        """Take one output line; return the progress line to show, if any."""
        line = line.rstrip()
        self.tail = [*self.tail[-29:], line]
        if line.startswith(("W: ", "E: ")):
            kind = "warning" if line[0] == "W" else "error"
            return f"debootstrap {kind}: {line[3:]}"
        if not line.startswith("I: "):
            return None
        message = line[3:]
        phase = next((name for pattern, name in self._PHASES if re.match(pattern, message)), "")
        if phase == "retrieving packages" and message.startswith("Retrieving "):
            self.retrieved += 1
        if not phase or phase == self.phase:
            return None
        self.phase = phase
        if phase == "base system installed":
            return f"debootstrap: {phase} ({self.retrieved} packages)"
        return f"debootstrap: {phase}…"


class _Builder:
    """One build in one work dir; every child inherits the lock so that an orphaned
    debootstrap (the caller killed) still holds it, and the next build waits for it."""

    def __init__(self, lock_fd: int, progress: Progress) -> None:
        self.lock_fd = lock_fd
        self.progress = progress

    def run(self, args: Sequence[str], *, env: Mapping[str, str] | None = None) -> str:
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            check=False,
            env=dict(env) if env is not None else None,
            pass_fds=(self.lock_fd,),
        )
        if result.returncode != 0:
            raise ImageError(
                f"`{' '.join(args)}` failed with exit code {result.returncode}:\n"
                f"{(result.stderr or result.stdout).strip()}"
            )
        return result.stdout

    def chroot(self, rootfs: Path, *args: str) -> str:
        return self.run(["chroot", str(rootfs), *args], env=_CHROOT_ENV)

    def debootstrap(self, recipe: ImageRecipe, mirror: MirrorConfig, rootfs: Path) -> None:
        args = [
            "debootstrap",
            f"--variant={recipe.variant}",
            f"--arch={recipe.architecture}",
            f"--components={','.join(recipe.components)}",
            f"--include={','.join(sorted(recipe.packages))}",
            recipe.suite,
            str(rootfs),
            mirror.uri,
        ]
        env = dict(os.environ)
        if mirror.proxy:
            env["http_proxy"] = mirror.proxy  # apt's Acquire::http::Proxy, for an http mirror
        condensed = DebootstrapProgress()
        with subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            pass_fds=(self.lock_fd,),
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                shown = condensed.feed(line)
                if shown:
                    self.progress(shown)
        if proc.returncode != 0:
            log = rootfs / "debootstrap" / "debootstrap.log"
            log_tail = log.read_text(errors="replace").splitlines()[-20:] if log.is_file() else []
            raise ImageError(
                f"debootstrap of {recipe.suite} from {mirror.uri} failed (exit {proc.returncode}); "
                "check that `apt-get update` works on this controller. Last output:\n"
                + "\n".join(condensed.tail + log_tail)
            )

    def post_build(self, recipe: ImageRecipe, rootfs: Path) -> None:
        self.progress("post-build: removing host keys, machine-id and controller files…")
        for pattern in recipe.scrubbed_paths:
            for match in glob.glob(str(rootfs / pattern)):
                _remove_tree(Path(match))
        machine_id = rootfs / "etc/machine-id"
        machine_id.write_text("")
        machine_id.chmod(0o444)
        dbus_id = rootfs / "var/lib/dbus/machine-id"
        if dbus_id.parent.is_dir():
            dbus_id.unlink(missing_ok=True)
            dbus_id.symlink_to("/etc/machine-id")

        self.progress("post-build: enabling and masking units…")
        self.chroot(rootfs, "systemctl", "enable", *recipe.enabled_units)
        self.chroot(rootfs, "systemctl", "mask", *recipe.masked_units)

        self.progress(f"post-build: creating the admin user {recipe.admin_user}…")
        self._admin_user(recipe, rootfs)
        self._sshd(recipe, rootfs)

    def _admin_user(self, recipe: ImageRecipe, rootfs: Path) -> None:
        user = recipe.admin_user
        self.chroot(
            rootfs,
            "useradd",
            f"--uid={recipe.admin_uid}",
            "--user-group",
            f"--groups={','.join(recipe.admin_groups)}",
            f"--home-dir=/home/{user}",
            "--create-home",
            "--key=HOME_MODE=0700",  # least privilege (MLPS 8.1.4.2); Debian's default is 0755
            "--shell=/bin/bash",
            "--password=!",  # locked: ssh keys only, sudo without a password
            user,
        )
        ssh_dir = rootfs / "home" / user / ".ssh"
        ssh_dir.mkdir(mode=0o700)
        os.chown(ssh_dir, recipe.admin_uid, recipe.admin_uid)  # authorized_keys: per host
        sudoers = rootfs / "etc/sudoers.d" / user
        sudoers.write_text(f"{user} ALL=(ALL:ALL) NOPASSWD: ALL\n")
        sudoers.chmod(0o440)
        self.chroot(rootfs, "visudo", "-cf", f"/etc/sudoers.d/{user}")

    def _sshd(self, recipe: ImageRecipe, rootfs: Path) -> None:
        drop_in = rootfs / SSHD_DROP_IN
        drop_in.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{key} {value}" for key, value in recipe.sshd_settings]
        drop_in.write_text(
            "# regionstack: keys only, no root login (MLPS 8.1.4.1, 8.1.4.2)\n"
            + "\n".join(lines)
            + "\n"
        )
        drop_in.chmod(0o644)
        # `sshd -T` prints the effective configuration: proves the drop-in wins over
        # sshd_config (first value wins). It needs a host key and the privsep dir, so both
        # exist only for the check.
        key = "/tmp/regionstack-sshd-check"
        privsep = rootfs / "run/sshd"
        made_privsep = not privsep.exists()
        privsep.mkdir(mode=0o755, exist_ok=True)
        try:
            self.chroot(rootfs, "ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", key)
            effective = self.chroot(rootfs, "/usr/sbin/sshd", "-T", "-h", key).splitlines()
        finally:
            for path in (rootfs / key.lstrip("/"), rootfs / f"{key.lstrip('/')}.pub"):
                path.unlink(missing_ok=True)
            if made_privsep:
                privsep.rmdir()
        for key_word, value in recipe.sshd_settings:
            if f"{key_word.lower()} {value}" not in effective:
                raise ImageError(f"sshd does not apply `{key_word} {value}` from {SSHD_DROP_IN}")

    def packages(self, rootfs: Path) -> dict[str, str]:
        out = self.chroot(rootfs, "dpkg-query", "--show", "--showformat=${Package}\t${Version}\n")
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def tarball(self, rootfs: Path, tarball: Path) -> None:
        self.run(
            [
                "tar",
                "--create",
                f"--file={tarball}",
                f"--directory={rootfs}",
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "--acls",
                "--one-file-system",
                "--sort=name",
                ".",
            ]
        )


def _verify(recipe: ImageRecipe, rootfs: Path) -> None:
    """Cheap checks that the post-build promises hold before the image is published."""
    problems = []
    if glob.glob(str(rootfs / "etc/ssh/ssh_host_*")):
        problems.append("SSH host keys left in /etc/ssh")
    if (rootfs / "etc/machine-id").read_text() != "":
        problems.append("/etc/machine-id is not empty")
    for unit in recipe.masked_units:
        link = rootfs / "etc/systemd/system" / unit
        if not link.is_symlink() or os.readlink(link) != "/dev/null":
            problems.append(f"{unit} is not masked")
    if problems:
        raise ImageError("the built image breaks its recipe: " + "; ".join(problems))


def _build_into(
    builder: _Builder,
    recipe: ImageRecipe,
    mirror: MirrorConfig,
    work: Path,
    digest: str,
) -> None:
    started = time.monotonic()
    rootfs = work / ROOTFS
    builder.progress(
        f"building {image_name(digest)} ({recipe.suite} {recipe.variant}) from {mirror.uri}"
    )
    builder.debootstrap(recipe, mirror, rootfs)
    builder.post_build(recipe, rootfs)
    _verify(recipe, rootfs)
    packages = builder.packages(rootfs)
    builder.progress("packing image.tar…")
    builder.tarball(rootfs, work / TARBALL)
    manifest = {
        "name": image_name(digest),
        "digest": digest,
        "recipe_version": RECIPE_VERSION,
        "recipe": recipe.canonical(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.monotonic() - started, 1),
        "built_from": mirror.uri,  # provenance only: not in the digest
        "rootfs_bytes": _disk_usage(rootfs),
        "tar_bytes": (work / TARBALL).stat().st_blocks * 512,
        "packages": dict(sorted(packages.items())),
    }
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    os.sync()  # the rename below publishes the image: its contents must be on disk first


def _publish(work: Path, final: Path) -> None:
    """Replace `final` by `work` with renames only; the old image is deleted afterwards."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        final.rename(old)
    work.rename(final)
    if old is not None:
        _remove_tree(old)


def build_image(
    force: bool = False,
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    cache_dir: Path | None = None,
    progress: Progress = print_progress,
    mountinfo: Path = MOUNTINFO,
) -> Path:
    """Build the image of `recipe` unless it is cached (always with force); its rootfs dir."""
    directory = cache_dir or images_dir()
    digest = recipe_digest(recipe)
    final = directory / image_name(digest)
    if not force and (final / MANIFEST).is_file() and (final / ROOTFS).is_dir():
        return final / ROOTFS
    preflight(directory)
    mirror = controller_mirror(recipe.suite)
    with _build_lock(directory, progress) as lock_fd:
        if not force and (final / MANIFEST).is_file() and (final / ROOTFS).is_dir():
            return final / ROOTFS  # another process built it while we waited
        if force and (users := mounts_using(final, mountinfo)):
            raise ImageInUseError(f"cannot rebuild: {_describe_use(final.name, users)}")
        for leftover in _work_dirs(directory):
            progress(f"removing {leftover.name}, left by an interrupted build")
            _remove_tree(leftover)
        started = time.monotonic()
        work = directory / f".build-{digest[:12]}-{os.getpid()}"
        work.mkdir()
        try:
            _build_into(_Builder(lock_fd, progress), recipe, mirror, work, digest)
            _publish(work, final)
        except BaseException:
            _remove_tree(work)
            raise
        progress(f"done in {time.monotonic() - started:.0f} s: {final}")
    return final / ROOTFS


def _restore(final: Path, progress: Progress) -> None:
    """Unpack rootfs/ from image.tar (an image moved here without its rootfs)."""
    work = final.with_name(f".restore-{final.name}-{os.getpid()}")
    work.mkdir()
    try:
        progress(f"restoring {final.name}/rootfs from {TARBALL}…")
        result = subprocess.run(
            [
                "tar",
                "--extract",
                f"--file={final / TARBALL}",
                f"--directory={work}",
                "--numeric-owner",
                "--preserve-permissions",
                "--xattrs",
                "--xattrs-include=*",
                "--acls",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ImageError(
                f"cannot restore {final.name} from {final / TARBALL}: {result.stderr.strip()}; "
                f"remove {final} to rebuild it"
            )
        work.rename(final / ROOTFS)
    except BaseException:
        _remove_tree(work)
        raise


def ensure_image(
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    cache_dir: Path | None = None,
    progress: Progress = print_progress,
) -> Path:
    """The rootfs dir of the current image: cached, restored from its tarball, or built."""
    directory = cache_dir or images_dir()
    final = directory / image_name(recipe_digest(recipe))
    if (final / MANIFEST).is_file() and (final / ROOTFS).is_dir():
        return final / ROOTFS
    if (final / MANIFEST).is_file() and (final / TARBALL).is_file():
        with _build_lock(directory, progress):
            if not (final / ROOTFS).is_dir():
                _restore(final, progress)
        return final / ROOTFS
    return build_image(recipe=recipe, cache_dir=directory, progress=progress)
