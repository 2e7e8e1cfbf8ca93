"""Reaching the hosts: an ssh_config generated from the inventory keeps one multiplexed
connection per host (ControlMaster), opened up front for all hosts at once, so that a
command costs one round trip instead of an ssh handshake or an Ansible run."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.verify.errors import VerifyError
from infra.verify.inventory import RegionInventory

if TYPE_CHECKING:
    # Only a type here: the context module builds on this one (uses_ssh, ssh_config).
    from infra.verify.context import VerifyContext

SSH_CONNECTIONS = (None, "ssh", "smart")
# Multiplexed connections outlive one command; verify closes them when it ends.
CONTROL_PERSIST_SECONDS = 900
CONNECT_TIMEOUT_SECONDS = 10


def _ssh_options(arguments: str) -> list[tuple[str, str]]:
    """ssh_config options from ansible's ssh argument string (`-o K=V`, `-J`, `-p`...)."""
    flags = {"-J": "ProxyJump", "-p": "Port", "-i": "IdentityFile", "-l": "User"}
    words = shlex.split(arguments)
    options: list[tuple[str, str]] = []
    index = 0
    while index < len(words):
        word = words[index]
        value = word[2:] if len(word) > 2 and word[:2] in ("-o", *flags) else None
        flag = word[:2]
        if value is None:
            if index + 1 >= len(words) or flag not in ("-o", *flags) or len(word) != 2:
                raise VerifyError(f"cannot carry ssh argument {word!r} into an ssh_config")
            index += 1
            value = words[index]
        if flag == "-o":
            key, sep, setting = value.partition("=")
            if not sep:
                key, _, setting = value.partition(" ")
            options.append((key.strip(), setting.strip()))
        else:
            options.append((flags[flag], value))
        index += 1
    return options


def uses_ssh(hostvars: Mapping[str, Any]) -> bool:
    return hostvars.get("ansible_connection") in SSH_CONNECTIONS


def ssh_config(regions: Iterable[RegionInventory], control_dir: Path) -> str:
    """One `Host` block per host reached over ssh, with a persistent master connection.

    Ansible's own ssh arguments of the host come first: ssh takes the first value it
    reads for an option, so they win over the defaults here.
    """
    blocks: list[str] = []
    for region in regions:
        for host in region.hosts:
            values = region.hostvars[host.name]
            if not uses_ssh(values):
                continue
            options: list[tuple[str, str]] = []
            for key in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
                options += _ssh_options(str(values.get(key) or ""))
            options += [("HostName", host.address)]
            if values.get("ansible_user"):
                options.append(("User", str(values["ansible_user"])))
            if values.get("ansible_port"):
                options.append(("Port", str(values["ansible_port"])))
            key_file = values.get("ansible_ssh_private_key_file") or values.get(
                "ansible_private_key_file"
            )
            if key_file:
                options += [("IdentityFile", str(key_file)), ("IdentitiesOnly", "yes")]
            options += [
                ("BatchMode", "yes"),
                # The authorised-use banner would land in every command's stderr.
                ("LogLevel", "ERROR"),
                ("ConnectTimeout", str(CONNECT_TIMEOUT_SECONDS)),
                ("ServerAliveInterval", "15"),
                ("ControlMaster", "auto"),
                ("ControlPath", str(control_dir / "%C")),
                ("ControlPersist", f"{CONTROL_PERSIST_SECONDS}s"),
            ]
            seen: set[str] = set()
            lines = [f"Host {host.name}"]
            for key, value in options:
                if key.lower() not in seen:
                    seen.add(key.lower())
                    lines.append(f"  {key} {value}")
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def ssh_hosts(regions: Iterable[RegionInventory]) -> list[str]:
    """The hosts of `regions` reached over ssh (the others go through Ansible)."""
    return [h.name for r in regions for h in r.hosts if uses_ssh(r.hostvars[h.name])]


def run_ssh(
    config: Path,
    name: str,
    *options: str,
    command: str | None = "true",
    stdin: str | None = None,
    timeout: float = CONNECT_TIMEOUT_SECONDS * 3,
) -> subprocess.CompletedProcess[str]:
    """`ssh -F config [options] name [command]`: through the host's master connection once
    open; `command=None` for a control request (`-O exit`)."""
    return subprocess.run(
        ["ssh", "-F", str(config), *options, name, *([command] if command else [])],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def open_connections(context: VerifyContext) -> dict[str, str]:
    """Open every ssh host's master connection at once; {host: error} of those that fail."""
    config = Path(context.ssh_config)
    names = ssh_hosts(context.regions)

    def attempt(name: str) -> tuple[str, str]:
        try:
            result = run_ssh(config, name)
        except subprocess.TimeoutExpired:
            return name, "timed out"
        return name, "" if result.returncode == 0 else result.stderr.strip() or "ssh failed"

    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        return {name: error for name, error in pool.map(attempt, names) if error}


def close_masters(config: Path, names: Sequence[str]) -> None:
    """End the master connections `config` opened to `names`."""
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        list(pool.map(lambda n: run_ssh(config, n, "-O", "exit", command=None), names))


def close_connections(context: VerifyContext) -> None:
    close_masters(Path(context.ssh_config), ssh_hosts(context.regions))
