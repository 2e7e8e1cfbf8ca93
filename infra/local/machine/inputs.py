"""A machine's inputs: which keys they are, their shape as Pulumi hands them over, and the
checks that name every wrong one."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

from infra.local.machine.errors import MachineError

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

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_BRIDGE = re.compile(r"^[A-Za-z0-9_-]{1,15}$")  # IFNAMSIZ
_KEY = re.compile(r"^(ssh-|ecdsa-|sk-)[\w@.-]+ [A-Za-z0-9+/=]+( [^\n]*)?$")


def normalize(props: dict[str, Any]) -> dict[str, Any]:
    """Pulumi carries numbers as floats: the prefix length is an int again."""
    props = dict(props)
    prefix = props.get("prefix_length")
    if isinstance(prefix, int | float):
        props["prefix_length"] = int(prefix)
    # Machines created before image layers existed have none: the same as an empty list.
    if props.get("layers") is None:
        props["layers"] = []
    return props


def input_values(props: dict[str, Any]) -> dict[str, Any]:
    return {k: props[k] for k in INPUT_KEYS if k in props}


def _known(value: Any) -> bool:
    # In a preview, inputs computed by other resources (the image's rootfs, the admin
    # key) arrive as the UNKNOWN sentinel string or as pulumi.output.Unknown objects.
    # Imported here, not at the top: the CLI reaches this module through the machine
    # lifecycle, and Pulumi's SDK would add a fifth of a second to every command's start.
    from pulumi.output import Unknown
    from pulumi.runtime import rpc

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
