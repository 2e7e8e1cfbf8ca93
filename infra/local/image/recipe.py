"""The recipe: everything that decides what is in the image, and its digest."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from dataclasses import dataclass
from typing import Any

from infra.config.schema import DEBIAN_SUITE

ADMIN_USER = "rsadmin"

# Bump whenever the post-build code (builder.py) changes what it writes into the image: the
# digest then changes and every controller rebuilds instead of reusing an outdated image.
RECIPE_VERSION = 1

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


def host_architecture() -> str:
    machine = platform.machine()
    return _DEBIAN_ARCH.get(machine, machine)


@dataclass(frozen=True)
class ImageRecipe:
    """Everything that decides what is in the image (and nothing that does not)."""

    suite: str = DEBIAN_SUITE
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
