"""A guest cannot pass for another host of its region: the bridge ports' binding, for real.

One small test region on its own bridge `rstst96` (10.250.96.0/24) with the region's real
ruleset (infra/local/firewall_rules.py, applied by the Firewall provider): two machines
booted by the Machine provider, portal-1 (A) and portal-2 (B), and data-exchange-1 (C), a
network namespace on its own bound port, which records every frame that reaches it.

From inside A (its network namespace, entered from the controller) hand-made frames go
to C and to the gateway: genuine ones, and ones with B's IPv4 address, another MAC or
B's address in ARP. The flow matrix admits portal -> data_exchange on 8443 from either
portal, so only the binding can tell the spoofed SYN from the genuine one. C and a
listener on the bridge (the gateway) must see the genuine frames and none of the spoofed;
the counters of A's binding rules must show the drops. A handful of frames, all to this
region's own addresses.
"""

from __future__ import annotations

import ipaddress
import json
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.config.loader import load_fleet
from infra.config.schema import Standard
from infra.local import supervisor as sv
from infra.local.firewall_rules import render_ruleset
from infra.local.image import ADMIN_USER, ensure_image
from infra.local.plan import HostPlan, RegionPlan
from infra.local.ports import guest_mac, port_name
from modules.local.firewall import FirewallProvider
from modules.local.machine import MachineProvider
from tests.e2e.conftest import needs_root_and
from tests.e2e.local.test_machine import Key, make_key, sh

ROOT = Path(__file__).resolve().parents[3]
pytestmark = needs_root_and(
    "ip", "nft", "nsenter", "systemd-nspawn", "ssh-keygen", "ssh-keyscan", "mount"
)

STACK = "spoofe2e"
NETWORK = ipaddress.IPv4Network("10.250.96.0/24")
PLAN = RegionPlan(
    stack=STACK,
    code="tst96",
    cidr=str(NETWORK),
    prefix_length=NETWORK.prefixlen,
    bridge="rstst96",
    gateway="10.250.96.1",
    table="regionstack_tst96",
    hosts=(
        HostPlan(f"{STACK}-portal-1", "portal", 1, "10.250.96.2"),
        HostPlan(f"{STACK}-portal-2", "portal", 2, "10.250.96.3"),
        HostPlan(f"{STACK}-data-exchange-1", "data_exchange", 1, "10.250.96.4"),
    ),
    parent_exchange=None,
    child_exchanges=(),
)
A, B, C = PLAN.hosts
NAMESPACE = f"{STACK}-c"  # C: a network namespace, not a machine
SERVICE_PORT = 8443  # portal-to-data-exchange: open to both portals
GATEWAY_PORT = 9  # nothing listens; the frame only has to reach the gateway
LISTEN_S = 4.0

# Runs in a network namespace: every frame that arrives on one interface, as hex.
SNIFFER = """
import json, select, socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((sys.argv[1], 0))
print("ready", flush=True)
seen, deadline = [], time.monotonic() + float(sys.argv[2])
while (left := deadline - time.monotonic()) > 0:
    if select.select([s], [], [], left)[0]:
        frame, address = s.recvfrom(65535)
        if address[2] != socket.PACKET_OUTGOING:
            seen.append(frame.hex())
print(json.dumps(seen), flush=True)
"""
# Runs in A's network namespace: sends the given frames, as they are, on host0.
SENDER = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("host0", 0))
for frame in sys.argv[1:]:
    s.send(bytes.fromhex(frame))
"""


# --- hand-made frames ------------------------------------------------------------------


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _checksum(data: bytes) -> int:
    data += b"\0" * (len(data) % 2)
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def syn_frame(src_mac: str, dst_mac: str, src: str, dst: str, sport: int, dport: int) -> bytes:
    """An Ethernet frame with a TCP SYN, checksums right, so a receiver takes it seriously."""
    saddr, daddr = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = saddr + daddr + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, saddr, daddr)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return _mac(dst_mac) + _mac(src_mac) + b"\x08\x00" + ip + tcp


def arp_frame(
    src_mac: str, dst_mac: str, op: int, sender_mac: str, sender: str, target: str
) -> bytes:
    target_mac = "00:00:00:00:00:00" if op == 1 else dst_mac
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
    arp += _mac(sender_mac) + ipaddress.IPv4Address(sender).packed
    arp += _mac(target_mac) + ipaddress.IPv4Address(target).packed
    return _mac(dst_mac) + _mac(src_mac) + b"\x08\x06" + arp


@dataclass(frozen=True)
class Seen:
    """What a receiver makes of a frame: enough to tell the test's frames apart."""

    kind: str  # "tcp" or "arp"
    ether_src: str
    source: str  # IPv4 source, or ARP sender address
    detail: str  # TCP source port, or ARP sender MAC

    @classmethod
    def parse(cls, frame: bytes) -> Seen | None:
        ether_src, ether_type = frame[6:12].hex(":"), frame[12:14]
        if ether_type == b"\x08\x00" and frame[23] == 6:
            header = (frame[14] & 0x0F) * 4
            sport = struct.unpack("!H", frame[14 + header : 16 + header])[0]
            return cls("tcp", ether_src, str(ipaddress.IPv4Address(frame[26:30])), str(sport))
        if ether_type == b"\x08\x06":
            sender = str(ipaddress.IPv4Address(frame[28:32]))
            return cls("arp", ether_src, sender, frame[22:28].hex(":"))
        return None


# --- the region ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def standard() -> Standard:
    return load_fleet(ROOT / "stacks").standard


@pytest.fixture(scope="module")
def bridge() -> Iterator[str]:
    clash = [
        line
        for line in sh("ip", "-4", "route", "show").stdout.splitlines()
        if line.split()[0] != "default"
        and ipaddress.IPv4Network(line.split()[0], strict=False).overlaps(NETWORK)
        and f"dev {PLAN.bridge} " not in line
    ]
    if clash:
        pytest.fail(f"{NETWORK} is routed elsewhere ({clash}); remove that first")
    sh("ip", "link", "del", PLAN.bridge, check=False)  # left by a killed run of this module
    sh("ip", "link", "add", PLAN.bridge, "type", "bridge")
    try:
        sh("ip", "addr", "add", f"{PLAN.gateway}/{PLAN.prefix_length}", "dev", PLAN.bridge)
        sh("ip", "link", "set", PLAN.bridge, "up")
        yield PLAN.bridge
    finally:
        sh("ip", "link", "del", PLAN.bridge, check=False)


@pytest.fixture(scope="module")
def firewall(bridge: str, standard: Standard) -> Iterator[str]:
    provider = FirewallProvider()
    props = {
        "stack": STACK,
        "table": PLAN.table,
        "ruleset": render_ruleset(PLAN, standard),
    }
    provider.create(dict(props))
    try:
        yield PLAN.table
    finally:
        provider.delete(f"{STACK}:{PLAN.table}", dict(props))


@pytest.fixture(scope="module")
def machines(
    firewall: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, dict[str, Any]]]:
    """A and B, created in parallel by the Machine provider; deleted whatever happens."""
    work = tmp_path_factory.mktemp("spoofing")
    key: Key = make_key(work, "admin")
    rootfs = ensure_image()
    provider = MachineProvider()
    props = {
        host.name: {
            "name": host.name,
            "stack": STACK,
            "address": host.address,
            "prefix_length": PLAN.prefix_length,
            "gateway": PLAN.gateway,
            "bridge": PLAN.bridge,
            "rootfs": str(rootfs),
            "state_root": str(work / "state"),
            "admin_user": ADMIN_USER,
            "admin_public_key": key.public,
            "dns_domain": f"{STACK}.internal",
        }
        for host in (A, B)
    }
    outs: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def create(name: str) -> None:
        try:
            result = provider.create(dict(props[name]))
            assert result.outs is not None
            outs[name] = result.outs
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=create, args=(name,)) for name in props]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        yield outs
    finally:
        for name in props:
            provider.delete(f"{STACK}:{name}", dict(props[name]))


@pytest.fixture(scope="module")
def host_c(bridge: str) -> Iterator[str]:
    """C on its bound port, with its pinned MAC: judged like any host of the region."""
    port = port_name(STACK, C.name)
    sh("ip", "netns", "del", NAMESPACE, check=False)
    sh("ip", "netns", "add", NAMESPACE)
    try:
        sh(
            "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "address", guest_mac(STACK, C.name), "netns", NAMESPACE,
        )  # fmt: skip
        sh("ip", "link", "set", port, "master", bridge, "up")
        sh("ip", "-n", NAMESPACE, "addr", "add", f"{C.address}/24", "dev", "eth0")
        sh("ip", "-n", NAMESPACE, "link", "set", "eth0", "up")
        yield NAMESPACE
    finally:
        sh("ip", "netns", "del", NAMESPACE, check=False)
        sh("ip", "link", "del", port, check=False)


# --- helpers ---------------------------------------------------------------------------


def leader_of(outs: dict[str, Any]) -> int:
    leader = sv.verified_leader(Path(outs["state_dir"]), outs["name"])
    assert leader is not None, f"{outs['name']} has no running guest"
    return leader


def in_guest(outs: dict[str, Any], *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a controller program in the guest's network namespace: it sends as the guest."""
    return sh("nsenter", "-t", str(leader_of(outs)), "-n", *argv)


class Sniffer:
    """Every frame arriving on `interface` (in `namespace`, or the controller's own)."""

    def __init__(self, interface: str, namespace: str | None = None) -> None:
        enter = ["ip", "netns", "exec", namespace] if namespace else []
        self.process = subprocess.Popen(
            [*enter, sys.executable, "-c", SNIFFER, interface, str(LISTEN_S)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def frames(self) -> list[Seen]:
        out, _ = self.process.communicate(timeout=LISTEN_S + 10)
        parsed = (Seen.parse(bytes.fromhex(h)) for h in json.loads(out))
        return [seen for seen in parsed if seen is not None]


def binding_counters(table: str) -> dict[str, int]:
    """Packets dropped so far by each binding rule, by its comment."""
    listing = json.loads(sh("nft", "-j", "list", "chain", "bridge", table, "prerouting").stdout)
    counters = {}
    for item in listing["nftables"]:
        rule = item.get("rule")
        if rule and "comment" in rule:
            counter = next((e["counter"] for e in rule["expr"] if "counter" in e), None)
            counters[rule["comment"]] = counter["packets"] if counter else 0
    return counters


# --- the test --------------------------------------------------------------------------


def test_guests_have_their_bound_port_and_mac(machines: dict[str, dict[str, Any]]) -> None:
    for host in (A, B):
        port = sh("ip", "-j", "link", "show", port_name(STACK, host.name)).stdout
        assert json.loads(port)[0]["master"] == PLAN.bridge, host.name
        link = json.loads(in_guest(machines[host.name], "ip", "-j", "link", "show", "host0").stdout)
        assert link[0]["address"] == guest_mac(STACK, host.name), host.name


def test_spoofed_frames_are_dropped_and_genuine_ones_pass(
    machines: dict[str, dict[str, Any]], host_c: str, firewall: str
) -> None:
    a = machines[A.name]
    mac_a, mac_b, mac_c = (guest_mac(STACK, h.name) for h in (A, B, C))
    mac_gw = Path(f"/sys/class/net/{PLAN.bridge}/address").read_text().strip()
    other_mac = "02:00:00:00:00:99"
    sent = {
        "genuine SYN to C": syn_frame(mac_a, mac_c, A.address, C.address, 41001, SERVICE_PORT),
        "SYN to C from B's address": syn_frame(
            mac_a, mac_c, B.address, C.address, 41002, SERVICE_PORT
        ),
        "SYN to C from B's MAC": syn_frame(mac_b, mac_c, A.address, C.address, 41003, SERVICE_PORT),
        "genuine SYN to the gateway": syn_frame(
            mac_a, mac_gw, A.address, PLAN.gateway, 41004, GATEWAY_PORT
        ),
        "SYN to the gateway from B's address": syn_frame(
            mac_a, mac_gw, B.address, PLAN.gateway, 41005, GATEWAY_PORT
        ),
        "genuine ARP request": arp_frame(
            mac_a, "ff:ff:ff:ff:ff:ff", 1, mac_a, A.address, C.address
        ),
        "ARP reply claiming B's address": arp_frame(mac_a, mac_c, 2, mac_a, B.address, C.address),
        "ARP reply claiming another MAC": arp_frame(
            mac_a, mac_c, 2, other_mac, A.address, C.address
        ),
    }
    before = binding_counters(firewall)
    at_c, at_gateway = Sniffer("eth0", host_c), Sniffer(PLAN.bridge)
    in_guest(a, sys.executable, "-c", SENDER, *(frame.hex() for frame in sent.values()))
    time.sleep(1.0)
    seen_by_c, seen_by_gateway = at_c.frames(), at_gateway.frames()
    after = binding_counters(firewall)

    def arrived(seen: list[Seen], kind: str, source: str, detail: str, ether: str) -> bool:
        return Seen(kind, ether, source, detail) in seen

    outcome = {
        "genuine SYN to C": arrived(seen_by_c, "tcp", A.address, "41001", mac_a),
        "SYN to C from B's address": arrived(seen_by_c, "tcp", B.address, "41002", mac_a),
        "SYN to C from B's MAC": arrived(seen_by_c, "tcp", A.address, "41003", mac_b),
        "genuine SYN to the gateway": arrived(seen_by_gateway, "tcp", A.address, "41004", mac_a),
        "SYN to the gateway from B's address": arrived(
            seen_by_gateway, "tcp", B.address, "41005", mac_a
        ),
        "genuine ARP request": arrived(seen_by_c, "arp", A.address, mac_a, mac_a),
        "ARP reply claiming B's address": arrived(seen_by_c, "arp", B.address, mac_a, mac_a),
        "ARP reply claiming another MAC": arrived(seen_by_c, "arp", A.address, other_mac, mac_a),
    }
    expected = {name: name.startswith("genuine") for name in sent}
    assert outcome == expected, (
        f"frames that arrived (True) or not:\n{json.dumps(outcome, indent=1)}\n"
        f"C saw: {seen_by_c}\nthe gateway saw: {seen_by_gateway}"
    )

    dropped = {comment: after[comment] - before.get(comment, 0) for comment in after}
    assert dropped[f"binding: {A.name} sends from {A.address} only"] >= 2, dropped
    assert dropped[f"binding: {A.name} sends from its own MAC only"] >= 1, dropped
    assert dropped[f"binding: {A.name} claims {A.address} only"] >= 1, dropped
    assert dropped[f"binding: {A.name} claims its own MAC only"] >= 1, dropped
