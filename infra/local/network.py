"""A local region's network mechanism: its Linux bridge and the services on its gateway
address. The Network resource (modules/local/network.py) and the bake's build network
(infra/local/layers/machines.py) both run their networks with it.

The bridge `rs<code>` carries the region's CIDR; its first address is the gateway, which
serves the hosts DNS, time and an apt proxy (infra/local/gateway_services.py). There is
no NAT: the firewall (infra/local/firewall.py) decides what crosses the bridge.

Ownership: the bridge's alias is `regionstack:<stack>`. A link of that name without the
alias is someone else's and is never touched; one with it was left by a run that was
killed, and is adopted. Daemons are ours only when /proc/<pid>/cmdline shows our
configuration path.

Lifecycle: `validate` and `preflight` refuse, before anything is created, inputs that do
not describe one consistent network and a CIDR that another route of the controller
already covers; `apply` creates or repairs the bridge and the daemons; `bridge_ok` and
`services_ok` tell whether they are still there (so `pulumi refresh` shows a vanished
bridge or a dead daemon as drift); `teardown` is idempotent and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from infra.config.environment import DEFAULT_LOCAL_STATE
from infra.local import gateway_services, routes
from infra.local.firewall_rules import marker

DEFAULT_STATE_ROOT = str(DEFAULT_LOCAL_STATE)
INPUT_KEYS = (
    "stack",
    "bridge",
    "cidr",
    "gateway",
    "prefix_length",
    "hosts",
    "dns_domain",
    "state_root",
    "apt_upstream",
    "apt_security_upstream",
    "apt_cache_dir",
)
IFNAMSIZ = 15


class NetworkError(RuntimeError):
    """The network cannot be created as asked; the message says what is in the way."""


# --- the bridge ------------------------------------------------------------------------


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def _ip_checked(*args: str) -> str:
    result = _ip(*args)
    if result.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def link(name: str) -> dict[str, Any] | None:
    """`ip -j link show` of one link, or None when there is no link of that name."""
    result = _ip("-j", "link", "show", "dev", name)
    if result.returncode != 0:
        if "does not exist" in result.stderr:
            return None
        raise NetworkError(f"ip link show {name} failed: {result.stderr.strip()}")
    entries: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return entries[0] if entries else None


def ipv4_addresses(name: str) -> set[str]:
    entries = json.loads(_ip_checked("-j", "-4", "addr", "show", "dev", name) or "[]")
    return {
        f"{info['local']}/{info['prefixlen']}"
        for entry in entries
        for info in entry.get("addr_info", [])
        if info.get("family") == "inet"
    }


def bridge_mac(bridge: str) -> str:
    """A fixed, locally administered MAC: without one the bridge takes its lowest port's,
    which changes as hosts come and go and leaves stale gateway entries in their ARP caches."""
    digest = hashlib.sha256(bridge.encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def _sysctl(path: str, value: str) -> None:
    Path("/proc/sys", path).write_text(value)


def ensure_bridge(props: dict[str, Any]) -> bool:
    """Create the bridge, or bring an adopted one to the wanted state; idempotent.

    True when the gateway address was (re)added, so daemons bound to it must restart.
    """
    bridge, tag = props["bridge"], marker(props["stack"])
    if link(bridge) is None:
        _ip_checked("link", "add", "name", bridge, "address", bridge_mac(bridge), "type", "bridge")
    # The alias comes second (`ip link add` ignores one): a run killed in between leaves a
    # link create refuses as foreign, and the operator deletes it by hand.
    _ip_checked("link", "set", "dev", bridge, "alias", tag)
    wanted = f"{props['gateway']}/{props['prefix_length']}"
    readdressed = ipv4_addresses(bridge) != {wanted}
    if readdressed:
        _ip_checked("-4", "addr", "flush", "dev", bridge)
        _ip_checked("addr", "add", wanted, "dev", bridge)
    # Hosts are IPv4-only; without IPv6 the controller offers them no link-local path.
    _sysctl(f"net/ipv6/conf/{bridge}/disable_ipv6", "1")
    # Forwarding for this bridge only (the global switch stays off); it goes with the bridge.
    _sysctl(f"net/ipv4/conf/{bridge}/forwarding", "1")
    _ip_checked("link", "set", "dev", bridge, "up")
    return readdressed


def bridge_ok(props: dict[str, Any]) -> bool:
    found = link(props["bridge"])
    if found is None or found.get("ifalias") != marker(props["stack"]):
        return False
    if "UP" not in found.get("flags", []):
        return False
    return ipv4_addresses(props["bridge"]) == {f"{props['gateway']}/{props['prefix_length']}"}


def delete_bridge(props: dict[str, Any]) -> None:
    found = link(props["bridge"])
    if found is not None and found.get("ifalias") == marker(props["stack"]):
        _ip_checked("link", "del", "dev", props["bridge"])


# --- checks before anything is created -------------------------------------------------


def validate(props: dict[str, Any]) -> None:
    """Refuse inputs that do not describe one consistent network."""
    network = IPv4Network(props["cidr"], strict=True)
    if network.prefixlen != int(props["prefix_length"]):
        raise NetworkError(f"prefix_length {props['prefix_length']} does not match {network}")
    if IPv4Address(props["gateway"]) not in network:
        raise NetworkError(f"gateway {props['gateway']} is not in {network}")
    bridge = props["bridge"]
    if not 1 <= len(bridge) <= IFNAMSIZ or not bridge.isascii() or not bridge.isalnum():
        raise NetworkError(f"bridge name {bridge!r} must be 1-{IFNAMSIZ} ASCII letters/digits")
    _config(props)  # validates hosts and apt_upstream
    root = Path(props["state_root"]).resolve()
    for part in (root, *root.parents):
        if part.exists() and not part.stat().st_mode & 0o001:
            raise NetworkError(
                f"state_root {props['state_root']}: {part} is not traversable by others; "
                "chronyd and apt-cacher-ng run as their own users and must reach their files"
            )


def preflight(props: dict[str, Any]) -> None:
    """Refuse a foreign link of our name and a CIDR that another route covers."""
    bridge, tag = props["bridge"], marker(props["stack"])
    found = link(bridge)
    if found is not None and found.get("ifalias") != tag:
        raise NetworkError(
            f"a link named {bridge} exists and is not ours (alias "
            f"{found.get('ifalias')!r}, expected {tag!r}); remove or rename it"
        )
    clashes = routes.overlapping(
        routes.controller_routes(), props["cidr"], own_device=bridge if found else None
    )
    if clashes:
        raise NetworkError(
            f"CIDR {props['cidr']} of {props['stack']} overlaps existing route(s) of the "
            f"controller: {'; '.join(r.describe() for r in clashes)}; choose another CIDR"
        )


# --- the gateway services --------------------------------------------------------------


def state_dir(props: dict[str, Any]) -> Path:
    return Path(str(props["state_root"])) / str(props["stack"]) / "network"


def _config(props: dict[str, Any]) -> gateway_services.GatewayConfig:
    try:
        return gateway_services.GatewayConfig(
            stack=props["stack"],
            cidr=props["cidr"],
            gateway=props["gateway"],
            hosts=dict(props.get("hosts") or {}),
            dns_domain=props["dns_domain"],
            apt_upstream=props["apt_upstream"],
            apt_security_upstream=props.get("apt_security_upstream") or None,
            state_dir=state_dir(props),
            apt_cache_dir=Path(props["apt_cache_dir"]) if props.get("apt_cache_dir") else None,
        )
    except ValueError as err:
        raise NetworkError(str(err)) from err


def ensure_services(props: dict[str, Any], restart: bool = False) -> dict[str, int]:
    """Write each daemon's files; (re)start it when they changed or it is not running."""
    cfg = _config(props)
    known = dict(props.get("pids") or {})
    pids = {}
    for spec in gateway_services.services(cfg):
        changed = gateway_services.write_files(spec)
        running = gateway_services.find_running(spec)
        if restart or changed or len(running) != 1:
            gateway_services.stop(spec, [*running, known.get(spec.name, 0)])
            pids[spec.name] = gateway_services.start(spec)
        else:
            pids[spec.name] = running[0]
        gateway_services.wait_answering(spec, cfg)
    return pids


def services_ok(props: dict[str, Any]) -> dict[str, int] | None:
    """The verified pid of each daemon, or None when any is not running."""
    pids = {}
    for spec in gateway_services.services(_config(props)):
        running = gateway_services.find_running(spec)
        if len(running) != 1:
            return None
        pids[spec.name] = running[0]
    return pids


def teardown(props: dict[str, Any]) -> None:
    """Stop our daemons, delete our bridge and the state directory; idempotent."""
    known = dict(props.get("pids") or {})
    with contextlib.suppress(NetworkError):  # inputs that never made a config: no daemons
        for spec in gateway_services.services(_config(props)):
            gateway_services.stop(spec, [known.get(spec.name, 0)])
    delete_bridge(props)
    directory = state_dir(props)
    shutil.rmtree(directory, ignore_errors=True)
    with contextlib.suppress(OSError):  # the stack's dir, if no other resource uses it
        directory.parent.rmdir()


# --- what the provider calls ------------------------------------------------------------


def normalize(props: dict[str, Any]) -> dict[str, Any]:
    """Pulumi carries numbers as floats: make the prefix length and the pids ints again."""
    props = dict(props)
    if props.get("prefix_length") is not None:
        props["prefix_length"] = int(props["prefix_length"])
    if props.get("pids"):
        props["pids"] = {name: int(pid) for name, pid in props["pids"].items()}
    return props


def input_values(props: dict[str, Any]) -> dict[str, Any]:
    return {k: props[k] for k in INPUT_KEYS if k in props}


def apply(props: dict[str, Any]) -> dict[str, Any]:
    """Create the bridge and the daemons, or repair them; the provider's outputs."""
    readdressed = ensure_bridge(props)
    pids = ensure_services(props, restart=readdressed)
    return {**input_values(props), "pids": pids, "healthy": bridge_ok(props)}
