"""The local network for real: bridges, gateway services and nftables on this controller.

Two test regions stand side by side, a child (10.250.98.0/24 on `rstst98`) and its parent
(10.250.99.0/24 on `rstst99`), built from hand-made RegionPlans so they never collide with
a deployed region. Network namespaces attached to the bridges by veth pairs play hosts, so
the flow matrix is proven with real TCP connections. Every address used is one of these
test hosts, a test gateway or loopback; the apt upstream is an HTTP server on loopback.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra.config.loader import load_fleet
from infra.config.schema import Standard
from infra.local import firewall, network
from infra.local import gateway_services as gs
from infra.local.firewall_rules import render_ruleset
from infra.local.network import NetworkError
from infra.local.plan import HostPlan, RegionPlan
from infra.local.routes import controller_routes
from modules.local.firewall import FirewallProvider
from modules.local.network import NetworkProvider
from tests.e2e.conftest import needs_root_and

ROOT = Path(__file__).resolve().parents[3]
pytestmark = needs_root_and("ip", "nft", "dnsmasq", "chronyd", "apt-cacher-ng", "setpriv")

RELEASE = b"Origin: regionstack-e2e\nSuite: bookworm\n"
CONNECT_TIMEOUT_S = 1.5


def make_plan(stack: str, octet: int, parent: str | None, children: tuple[str, ...]) -> RegionPlan:
    net = f"10.250.{octet}"
    components = (("portal", 2), ("data_exchange", 4), ("hotline", 5), ("security_monitoring", 6))
    return RegionPlan(
        stack=stack,
        code=f"tst{octet}",
        cidr=f"{net}.0/24",
        prefix_length=24,
        bridge=f"rstst{octet}",
        gateway=f"{net}.1",
        table=f"regionstack_tst{octet}",
        hosts=tuple(
            HostPlan(f"{stack}-{c.replace('_', '-')}-1", c, 1, f"{net}.{last}")
            for c, last in components
        ),
        parent_exchange=parent,
        child_exchanges=children,
    )


CHILD = make_plan("nete2e", 98, parent="10.250.99.4", children=())
PARENT = make_plan("nete2p", 99, parent=None, children=("10.250.98.4",))


def network_props(plan: RegionPlan, state_root: str, upstream: str) -> dict[str, Any]:
    return {
        "stack": plan.stack,
        "bridge": plan.bridge,
        "cidr": plan.cidr,
        "gateway": plan.gateway,
        "prefix_length": plan.prefix_length,
        "hosts": {h.name: h.address for h in plan.hosts},
        "dns_domain": f"{plan.stack}.internal",
        "apt_upstream": upstream,
        "state_root": state_root,
    }


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check)


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = " ".join(gs.cmdline(int(entry.name)))
            if text in argv:
                found.append(f"{entry.name}: {argv}")
    return found


def tables() -> str:
    return sh("nft", "list", "tables").stdout


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def standard() -> Standard:
    return load_fleet(ROOT / "stacks").standard


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """A Debian mirror stand-in on loopback: the apt proxy must fetch from it only."""
    with tempfile.TemporaryDirectory() as root:
        dists = Path(root, "debian", "dists", "bookworm")
        dists.mkdir(parents=True)
        (dists / "Release").write_bytes(RELEASE)

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        handler = functools.partial(Quiet, directory=root)
        server = None
        # Port 80 first: apt-cacher-ng's proxy mode matches only port-less upstreams, like
        # real mirrors. Else a port it can reach (gs.ACNG_MAX_UPSTREAM_PORT).
        for port in [80, *range(20000 + os.getpid() % 10000, gs.ACNG_MAX_UPSTREAM_PORT)]:
            with contextlib.suppress(OSError):
                server = ThreadingHTTPServer(("127.0.0.1", port), handler)
                break
        assert server is not None, "no free loopback port for the upstream stand-in"
        port = server.server_address[1]
        address = "127.0.0.1" if port == 80 else f"127.0.0.1:{port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://{address}/debian"
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def state_root() -> Iterator[str]:
    # Not pytest's tmp_path: its parents are private to root, and chronyd and
    # apt-cacher-ng run as their own users.
    root = tempfile.mkdtemp(prefix="regionstack-e2e-")
    os.chmod(root, 0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def regions(
    standard: Standard, state_root: str, upstream: str
) -> Iterator[dict[str, dict[str, Any]]]:
    """The child and the parent region, each with its network and firewall."""
    built: dict[str, dict[str, Any]] = {}
    try:
        for plan in (PARENT, CHILD):
            props = network_props(plan, state_root, upstream)
            net = NetworkProvider().create(props)
            rules = render_ruleset(plan, standard)
            fw = FirewallProvider().create(
                {"stack": plan.stack, "table": plan.table, "ruleset": rules}
            )
            built[plan.stack] = {"props": props, "net": net.outs, "fw": fw.outs, "id": net.id}
        yield built
    finally:
        for plan in (CHILD, PARENT):
            firewall.remove(plan.stack, plan.table)
            NetworkProvider().delete("", network_props(plan, state_root, upstream))


# --- hosts as network namespaces -------------------------------------------------------

LISTENER = """
import socket, sys, threading
socks = []
for port in map(int, sys.argv[1:]):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # connectors may share it
    s.bind(("0.0.0.0", port)); s.listen(16); socks.append(s)
def serve(s):
    while True:
        c, _ = s.accept(); c.close()
for s in socks:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""

CONNECTOR = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
def attempt(target):
    host, port, sport = target
    s = socket.socket(); s.settimeout(float(sys.argv[2]))
    if sport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("0.0.0.0", sport))
    try:
        s.connect((host, port)); return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "timeout"
    finally:
        s.close()
targets = [tuple(t) for t in json.loads(sys.argv[1])]
with ThreadPoolExecutor(len(targets)) as pool:
    print(json.dumps(list(pool.map(attempt, targets))))
"""


def attempt(host: str, port: int) -> str:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "timeout"


class Host:
    def __init__(self, name: str, plan: RegionPlan, last_octet: int, ports: list[int]) -> None:
        self.ns, self.address = name, f"{plan.cidr.rsplit('.', 1)[0]}.{last_octet}"
        veth = f"v{name}"[:15]
        sh("ip", "netns", "add", name)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        sh("ip", "link", "set", veth, "master", plan.bridge, "up")
        sh("ip", "-n", name, "addr", "add", f"{self.address}/24", "dev", "eth0")
        sh("ip", "-n", name, "link", "set", "eth0", "up")
        sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "-n", name, "route", "add", "default", "via", plan.gateway)
        self.listener = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-c", LISTENER, *map(str, ports)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.listener.stdout is not None
        assert self.listener.stdout.readline().strip() == "ready"

    def connect(self, targets: list[tuple[str, int, int]]) -> list[str]:
        """Outcome of a TCP connect to each (host, port, source port or 0)."""
        out = sh(
            "ip", "netns", "exec", self.ns, sys.executable, "-c", CONNECTOR,
            json.dumps(targets), str(CONNECT_TIMEOUT_S),
        ).stdout  # fmt: skip
        return list(json.loads(out))

    def close(self) -> None:
        self.listener.kill()
        self.listener.wait()
        sh("ip", "netns", "del", self.ns, check=False)


@pytest.fixture
def hosts(regions: dict[str, dict[str, Any]]) -> Iterator[dict[str, Host]]:
    made: dict[str, Host] = {}
    layout = {
        "rse2e-portal": (CHILD, 2, [22, 80, 443, 8443, 9100]),
        "rse2e-exchange": (CHILD, 4, [22, 5671, 8443, 9100]),
        "rse2e-hotline": (CHILD, 5, [22, 5671, 8443]),
        "rse2e-pexchange": (PARENT, 4, [22, 5671, 8443]),
    }
    try:
        for name, (plan, octet, ports) in layout.items():
            made[name.split("-", 1)[1]] = Host(name, plan, octet, ports)
        yield made
    finally:
        for host in made.values():
            host.close()
        for name in layout:  # a host that failed half-way
            sh("ip", "netns", "del", name, check=False)


# --- tests -----------------------------------------------------------------------------


def test_overlapping_cidr_is_refused_before_anything_exists(state_root: str, upstream: str) -> None:
    theirs = next(r for r in controller_routes() if r.kind == "unicast" and r.device)
    cidr = str(theirs.destination)
    plan = make_plan("nete2o", 97, parent=None, children=())
    gateway = str(theirs.destination.network_address + 1)
    props = {
        **network_props(plan, state_root, upstream),
        "cidr": cidr,
        "gateway": gateway,
        "prefix_length": theirs.destination.prefixlen,
        "hosts": {},
    }
    with pytest.raises(NetworkError) as refused:
        NetworkProvider().create(props)
    assert theirs.describe() in str(refused.value), refused.value
    assert network.link(plan.bridge) is None
    assert not network.state_dir(props).exists()
    assert processes_mentioning(str(network.state_dir(props))) == []


def test_a_foreign_link_of_our_name_is_refused_and_kept(state_root: str, upstream: str) -> None:
    plan = make_plan("nete2f", 96, parent=None, children=())
    sh("ip", "link", "add", plan.bridge, "type", "bridge")
    try:
        props = network_props(plan, state_root, upstream)
        with pytest.raises(NetworkError, match="not ours"):
            NetworkProvider().create(props)
        assert network.link(plan.bridge) is not None
        assert not network.state_dir(props).exists()
        NetworkProvider().delete("", props)  # delete too leaves it alone
        assert network.link(plan.bridge) is not None
    finally:
        sh("ip", "link", "del", plan.bridge, check=False)


def test_network_is_healthy_with_pids_and_marker(regions: dict[str, dict[str, Any]]) -> None:
    outs = regions[CHILD.stack]["net"]
    assert outs["healthy"] is True
    assert set(outs["pids"]) == {"dnsmasq", "chronyd", "apt_cacher_ng"}
    found = network.link(CHILD.bridge)
    assert found is not None and found["ifalias"] == "regionstack:nete2e"
    assert Path(f"/proc/sys/net/ipv4/conf/{CHILD.bridge}/forwarding").read_text().strip() == "1"
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"
    read = NetworkProvider().read(regions[CHILD.stack]["id"], outs)
    assert read.outs is not None and read.outs["healthy"] is True
    assert read.inputs == regions[CHILD.stack]["props"]


def test_dns_answers_the_region_names_only(regions: dict[str, dict[str, Any]]) -> None:
    gw = CHILD.gateway
    assert gs.dns_query(gw, "nete2e-portal-1") == (0, ["10.250.98.2"])
    assert gs.dns_query(gw, "nete2e-data-exchange-1.nete2e.internal") == (0, ["10.250.98.4"])
    assert gs.dns_query(gw, "nobody.nete2e.internal")[0] == 3  # NXDOMAIN
    rcode, answers = gs.dns_query(gw, "deb.debian.org")
    assert answers == [] and rcode != 0  # no upstream: refused, never forwarded
    assert gs.dns_query(PARENT.gateway, "nete2p-portal-1") == (0, ["10.250.99.2"])


def test_chrony_serves_time_to_the_region(regions: dict[str, dict[str, Any]]) -> None:
    stratum, server_time = gs.ntp_query(CHILD.gateway)
    assert stratum == 10
    assert abs(server_time - time.time()) < 5


def test_apt_proxy_serves_the_upstream_and_nothing_else(
    regions: dict[str, dict[str, Any]], upstream: str
) -> None:
    gw, port = CHILD.gateway, gs.APT_PROXY_PORT
    # URL-prefix mode: what hosts' sources.list uses.
    status, body = gs.http_get(gw, port, "/debian/dists/bookworm/Release")
    assert (status, body) == (200, RELEASE)
    # Proxy mode (Acquire::http::Proxy), for the upstream's own URLs.
    if urlsplit(upstream).port is None:
        status, body = gs.http_get(gw, port, f"{upstream}/dists/bookworm/Release")
        assert (status, body) == (200, RELEASE)
    # Any other origin is refused without being contacted (127.0.0.2 is loopback).
    other = upstream.replace("127.0.0.1", "127.0.0.2")
    assert gs.http_get(gw, port, f"{other}/dists/bookworm/Release")[0] == 403
    connection = http.client.HTTPConnection(gw, port, timeout=5)
    try:
        connection.request("CONNECT", upstream.split("/")[2])
        assert connection.getresponse().status == 403  # no https tunnels
    finally:
        connection.close()
    assert gs.http_get(gw, port, "/acng-report.html")[0] == 200


def test_firewall_tables_carry_the_marker(regions: dict[str, dict[str, Any]]) -> None:
    for plan in (CHILD, PARENT):
        for family in firewall.FAMILIES:
            text = firewall.listing(family, plan.table)
            assert text is not None and firewall.table_marker(text) == f"regionstack:{plan.stack}"
        outs = regions[plan.stack]["fw"]
        assert outs["applied"] is True
        read = FirewallProvider().read("id", outs)
        assert read.outs is not None and read.outs["applied"] is True


def test_flow_matrix_is_enforced_on_real_connections(
    regions: dict[str, dict[str, Any]], hosts: dict[str, Host]
) -> None:
    gw_probe = socket.socket()
    gw_probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    gw_probe.bind((CHILD.gateway, 2222))  # a controller service hosts must not reach
    gw_probe.listen()
    try:
        expectations = {
            "portal": [
                ("10.250.98.4", 8443, "open"),  # portal-to-data-exchange
                ("10.250.98.4", 5671, "open"),
                ("10.250.98.5", 8443, "open"),  # portal-to-hotline
                ("10.250.98.1", 53, "open"),  # gateway DNS (TCP)
                ("10.250.98.1", 3142, "open"),  # gateway apt proxy
                ("10.250.98.1", 2222, "timeout"),  # anything else on the controller
                ("10.250.98.4", 22, "timeout"),  # ssh only from admin
                ("10.250.99.4", 5671, "timeout"),  # only the exchange federates
            ],
            "hotline": [
                ("10.250.98.4", 5671, "open"),  # hotline-to-data-exchange
                ("10.250.98.4", 8443, "timeout"),  # ... and only 5671
                ("10.250.98.2", 443, "timeout"),
                ("10.250.99.1", 53, "timeout"),  # another region's gateway
            ],
            "exchange": [
                ("10.250.99.4", 5671, "open"),  # federation-to-parent
                ("10.250.99.4", 8443, "timeout"),
                ("10.250.98.2", 443, "timeout"),  # nothing flows back to the portal
                ("10.250.98.5", 8443, "timeout"),
            ],
            "pexchange": [
                ("10.250.98.4", 5671, "timeout"),  # federation goes upstream only
                ("10.250.99.1", 53, "open"),
            ],
        }
        failures = []
        for name, checks in expectations.items():
            results = hosts[name].connect([(h, p, 0) for h, p, _ in checks])
            for (host, port, wanted), got in zip(checks, results, strict=True):
                if got != wanted:
                    failures.append(f"{name} -> {host}:{port}: {got}, wanted {wanted}")
        # Replies pass the bridge statelessly, but never a connection opener: the exchange
        # cannot reach the portal by sending from its service port.
        for sport in (8443, 5671):
            got = hosts["exchange"].connect([("10.250.98.2", 22, sport)])[0]
            if got != "timeout":
                failures.append(f"exchange:{sport} -> 10.250.98.2:22: {got}, wanted timeout")
        controller = [
            ("10.250.98.2", 443, "open"),  # citizens-to-portal
            ("10.250.98.2", 80, "open"),
            ("10.250.98.5", 8443, "open"),  # call-centre-to-hotline
            ("10.250.98.4", 22, "open"),  # admin-ssh
            ("10.250.98.2", 9100, "timeout"),  # the controller is not the monitor
            ("10.250.98.4", 5671, "timeout"),
        ]
        with ThreadPoolExecutor(len(controller)) as pool:
            results = list(pool.map(lambda c: attempt(c[0], c[1]), controller))
        for (host, port, wanted), got in zip(controller, results, strict=True):
            if got != wanted:
                failures.append(f"controller -> {host}:{port}: {got}, wanted {wanted}")
        assert failures == []
    finally:
        gw_probe.close()


def test_a_killed_run_is_adopted(regions: dict[str, dict[str, Any]]) -> None:
    """A run killed after creating everything but before Pulumi saved state: create again."""
    before = regions[CHILD.stack]["net"]["pids"]
    started = time.monotonic()
    again = NetworkProvider().create(regions[CHILD.stack]["props"])
    elapsed = time.monotonic() - started
    assert again.outs is not None and again.outs["healthy"] is True
    assert again.outs["pids"] == before, "running daemons with our config are adopted"
    assert elapsed < 2
    fw = FirewallProvider().create({k: regions[CHILD.stack]["fw"][k] for k in firewall.INPUT_KEYS})
    assert fw.outs is not None and fw.outs["applied"] is True
    regions[CHILD.stack]["fw"] = fw.outs


def test_refresh_shows_a_deleted_bridge_and_update_repairs_it(
    regions: dict[str, dict[str, Any]],
) -> None:
    region = regions[CHILD.stack]
    provider = NetworkProvider()
    sh("ip", "link", "del", CHILD.bridge)
    refreshed = provider.read(region["id"], region["net"])
    assert refreshed.outs is not None and refreshed.outs["healthy"] is False
    diff = provider.diff(region["id"], refreshed.outs, region["props"])
    assert diff.changes and not diff.replaces
    repaired = provider.update(region["id"], refreshed.outs, region["props"])
    assert repaired.outs is not None and repaired.outs["healthy"] is True
    assert gs.dns_query(CHILD.gateway, "nete2e-portal-1") == (0, ["10.250.98.2"])
    assert gs.ntp_query(CHILD.gateway)[0] == 10
    region["net"] = repaired.outs


def test_a_dead_daemon_is_drift_and_is_restarted(regions: dict[str, dict[str, Any]]) -> None:
    region = regions[CHILD.stack]
    provider = NetworkProvider()
    os.kill(region["net"]["pids"]["chronyd"], 9)
    deadline = time.monotonic() + 5
    while gs.cmdline(region["net"]["pids"]["chronyd"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    refreshed = provider.read(region["id"], region["net"])
    assert refreshed.outs is not None and refreshed.outs["healthy"] is False
    repaired = provider.update(region["id"], refreshed.outs, region["props"])
    assert repaired.outs is not None and repaired.outs["healthy"] is True
    assert repaired.outs["pids"]["dnsmasq"] == region["net"]["pids"]["dnsmasq"]
    region["net"] = repaired.outs


def test_new_hosts_update_dns_in_place(regions: dict[str, dict[str, Any]]) -> None:
    region = regions[CHILD.stack]
    provider = NetworkProvider()
    news = {
        **region["props"],
        "hosts": {**region["props"]["hosts"], "nete2e-portal-2": "10.250.98.3"},
    }
    diff = provider.diff(region["id"], region["net"], news)
    assert diff.changes and not diff.replaces
    updated = provider.update(region["id"], region["net"], news)
    assert updated.outs is not None and updated.outs["healthy"] is True
    assert gs.dns_query(CHILD.gateway, "nete2e-portal-2") == (0, ["10.250.98.3"])
    assert updated.outs["pids"]["chronyd"] == region["net"]["pids"]["chronyd"]
    region["net"], region["props"] = updated.outs, news


def test_firewall_drift_is_seen_and_repaired(regions: dict[str, dict[str, Any]]) -> None:
    provider = FirewallProvider()
    outs = regions[CHILD.stack]["fw"]
    sh("nft", "flush", "chain", "bridge", CHILD.table, "forward")  # edited by hand
    edited = provider.read("id", outs)
    assert edited.outs is not None and edited.outs["applied"] is False
    sh("nft", "delete", "table", "inet", CHILD.table)  # and removed
    refreshed = provider.read("id", outs)
    assert refreshed.outs is not None and refreshed.outs["applied"] is False
    assert provider.diff("id", refreshed.outs, {k: outs[k] for k in firewall.INPUT_KEYS}).changes
    repaired = provider.update("id", refreshed.outs, {k: outs[k] for k in firewall.INPUT_KEYS})
    assert repaired.outs is not None and repaired.outs["applied"] is True
    assert repaired.outs["listing_sha256"] == outs["listing_sha256"]


def test_delete_leaves_nothing(standard: Standard, state_root: str, upstream: str) -> None:
    plan = make_plan("nete2d", 97, parent=None, children=())
    props = network_props(plan, state_root, upstream)
    fw_inputs = {
        "stack": plan.stack,
        "table": plan.table,
        "ruleset": render_ruleset(plan, standard),
    }
    net = NetworkProvider().create(props)
    fw = FirewallProvider().create(fw_inputs)
    assert net.outs is not None and fw.outs is not None
    for _ in range(2):  # idempotent
        FirewallProvider().delete(fw.id, fw.outs)
        NetworkProvider().delete(net.id, net.outs)
    assert network.link(plan.bridge) is None
    assert plan.table not in tables()
    assert not network.state_dir(props).exists()
    assert not Path(state_root, plan.stack).exists()
    deadline = time.monotonic() + 5
    while processes_mentioning(str(network.state_dir(props))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_mentioning(str(network.state_dir(props))) == []
    with contextlib.suppress(FileNotFoundError):
        assert not Path(f"/proc/sys/net/ipv4/conf/{plan.bridge}").exists()
