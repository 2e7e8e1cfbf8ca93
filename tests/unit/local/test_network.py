"""The network provider's pure parts: route overlaps, service configuration, diff, checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.local import gateway_services as gs
from infra.local.routes import overlapping, parse_routes
from modules.local import network
from modules.local.network import NetworkError, NetworkProvider

# `ip -j -4 route show table all` of a controller with one uplink and one region bridge.
ROUTES_JSON = json.dumps(
    [
        {"dst": "default", "gateway": "192.0.2.1", "dev": "eth0", "flags": []},
        {"dst": "10.203.2.0/24", "dev": "rs330127", "protocol": "kernel", "scope": "link"},
        {"dst": "192.0.2.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link"},
        {"dst": "172.30.0.0/16", "gateway": "192.0.2.9", "dev": "eth0", "protocol": "static"},
        {"type": "blackhole", "dst": "10.99.0.0/16", "flags": []},
        {"type": "local", "dst": "10.203.2.1", "dev": "rs330127", "table": "local"},
        {"type": "local", "dst": "192.0.2.2", "dev": "eth0", "table": "local"},
        {"type": "local", "dst": "127.0.0.0/8", "dev": "lo", "table": "local"},
        {"dst": "fe80::/64", "dev": "eth0"},
    ]
)


def describe_overlaps(cidr: str, own: str | None = None) -> list[str]:
    return [r.describe() for r in overlapping(parse_routes(ROUTES_JSON), cidr, own)]


def test_default_route_is_not_a_conflict() -> None:
    assert describe_overlaps("10.250.98.0/24") == []


def test_overlap_names_the_route_and_the_controller_address() -> None:
    assert describe_overlaps("192.0.2.0/25") == [
        "192.0.2.0/24 dev eth0 proto kernel",
        "local 192.0.2.2/32 dev eth0 table local",
    ]


def test_overlap_with_a_gatewayed_route_and_a_blackhole() -> None:
    assert describe_overlaps("172.30.4.0/24") == [
        "172.30.0.0/16 via 192.0.2.9 dev eth0 proto static"
    ]
    assert describe_overlaps("10.99.1.0/24") == ["blackhole 10.99.0.0/16"]


def test_own_bridge_routes_are_ours_only_when_named() -> None:
    assert describe_overlaps("10.203.2.0/24", own="rs330127") == []
    assert describe_overlaps("10.203.2.0/24") == [
        "10.203.2.0/24 dev rs330127 proto kernel",
        "local 10.203.2.1/32 dev rs330127 table local",
    ]


def test_garbage_and_ipv6_are_ignored() -> None:
    assert parse_routes("") == []
    assert parse_routes('[{"dst": "fe80::/64"}, {"flags": []}]') == []


# --- gateway service configuration -----------------------------------------------------


@pytest.fixture
def cfg(tmp_path: Path) -> gs.GatewayConfig:
    return gs.GatewayConfig(
        stack="chunan",
        cidr="10.203.2.0/24",
        gateway="10.203.2.1",
        hosts={"chunan-portal-1": "10.203.2.2", "chunan-data-exchange-1": "10.203.2.4"},
        dns_domain="chunan.internal",
        apt_upstream="http://deb.debian.org/debian/",
        state_dir=tmp_path / "chunan" / "network",
    )


def test_addn_hosts_lists_short_and_qualified_names_in_address_order(cfg: gs.GatewayConfig) -> None:
    assert gs.addn_hosts(cfg) == (
        "10.203.2.2 chunan-portal-1 chunan-portal-1.chunan.internal\n"
        "10.203.2.4 chunan-data-exchange-1 chunan-data-exchange-1.chunan.internal\n"
    )


def test_dnsmasq_serves_only_the_region_on_the_gateway(cfg: gs.GatewayConfig) -> None:
    conf = gs.dnsmasq_conf(cfg).splitlines()
    for line in ("bind-interfaces", "listen-address=10.203.2.1", "no-resolv", "no-hosts"):
        assert line in conf
    assert "local=/chunan.internal/" in conf
    assert f"addn-hosts={cfg.state_dir / 'hosts'}" in conf
    assert not [line for line in conf if line.startswith(("server=", "dhcp-range", "interface="))]


def test_chrony_serves_the_cidr_without_touching_the_clock(cfg: gs.GatewayConfig) -> None:
    conf = gs.chrony_conf(cfg).splitlines()
    for line in ("bindaddress 10.203.2.1", "allow 10.203.2.0/24", "local stratum 10", "cmdport 0"):
        assert line in conf
    assert "bindcmdaddress /" in conf  # no shared /run/chrony socket
    assert not [line for line in conf if line.startswith(("server ", "pool "))]
    chronyd = next(s for s in gs.services(cfg) if s.name == "chronyd")
    assert "-x" in chronyd.argv
    assert chronyd.pid_file.is_relative_to(cfg.state_dir)


def test_apt_cacher_ng_forwards_to_the_upstream_only(cfg: gs.GatewayConfig) -> None:
    conf = gs.acng_conf(cfg).splitlines()
    assert "BindAddress: 10.203.2.1" in conf
    assert "ForceManaged: 1" in conf
    assert "Remap-debrep: deb.debian.org/debian /debian ; http://deb.debian.org/debian" in conf
    assert not [line for line in conf if line.startswith("PassThroughPattern")]
    assert gs.apt_source_uri(cfg.gateway) == "http://10.203.2.1:3142/debian"
    acng = next(s for s in gs.services(cfg) if s.name == "apt_cacher_ng")
    assert acng.argv[0].endswith("setpriv") and "--reuid=apt-cacher-ng" in acng.argv
    assert all(path.is_relative_to(cfg.state_dir) for path in acng.files)


def test_apt_cacher_ng_keeps_packages_in_the_region_state_unless_given_a_cache(
    cfg: gs.GatewayConfig, tmp_path: Path
) -> None:
    assert f"CacheDir: {cfg.state_dir / 'apt-cacher-ng' / 'cache'}" in gs.acng_conf(cfg)
    kept = tmp_path / "cache" / "apt" / "chunan"
    cached = gs.GatewayConfig(**{**cfg.__dict__, "apt_cache_dir": kept})
    assert f"CacheDir: {kept}" in gs.acng_conf(cached).splitlines()
    acng = next(s for s in gs.services(cached) if s.name == "apt_cacher_ng")
    # Created for the unprivileged daemon; its parent stays root's.
    assert (kept, "apt-cacher-ng") in acng.dirs
    assert (kept.parent, None) in acng.dirs


def test_apt_cacher_ng_serves_the_security_archive_when_the_controller_has_one(
    cfg: gs.GatewayConfig,
) -> None:
    assert not [line for line in gs.acng_conf(cfg).splitlines() if "secrep" in line]
    with_security = gs.GatewayConfig(
        **{**cfg.__dict__, "apt_security_upstream": "http://deb.debian.org/debian-security"}
    )
    conf = gs.acng_conf(with_security).splitlines()
    assert (
        "Remap-secrep: deb.debian.org/debian-security /debian-security ; "
        "http://deb.debian.org/debian-security"
    ) in conf
    assert gs.apt_source_uri(cfg.gateway, gs.APT_SECURITY_PATH) == (
        "http://10.203.2.1:3142/debian-security"
    )


def test_a_bad_security_upstream_is_refused(cfg: gs.GatewayConfig) -> None:
    with pytest.raises(ValueError, match="apt_upstream 'debian-security'"):
        gs.GatewayConfig(**{**cfg.__dict__, "apt_security_upstream": "debian-security"})


@pytest.mark.parametrize(
    "upstream",
    [
        "ftp://deb.debian.org/debian",
        "deb.debian.org/debian",
        "http://u:p@mirror/debian",
        "http://127.0.0.1:40000/debian",
    ],
)
def test_apt_upstream_must_be_a_plain_http_uri(cfg: gs.GatewayConfig, upstream: str) -> None:
    with pytest.raises(ValueError, match="apt_upstream"):
        gs.upstream_host(upstream)


def test_hosts_outside_the_cidr_are_refused(cfg: gs.GatewayConfig) -> None:
    with pytest.raises(ValueError, match=r"not in 10\.203\.2\.0/24"):
        gs.GatewayConfig(**{**cfg.__dict__, "hosts": {"stray": "10.203.3.2"}})


def test_each_service_is_ours_only_with_our_config(tmp_path: Path, cfg: gs.GatewayConfig) -> None:
    marker = str(tmp_path / "marker.conf")
    spec = gs.ServiceSpec(
        name="sleeper",
        binary=Path(sys.executable).name,
        argv=(),
        marker=marker,
        pid_file=tmp_path / "pid",
        files={},
        dirs=(),
    )
    script = "import time; time.sleep(60)"
    ours = subprocess.Popen([sys.executable, "-c", script, marker])
    other = subprocess.Popen([sys.executable, "-c", script, marker + ".other"])
    try:
        assert gs.is_ours(ours.pid, spec)
        assert not gs.is_ours(other.pid, spec)
        assert gs.find_running(spec) == [ours.pid]
        gs.stop(spec, [other.pid])  # a pid that is not ours is never signalled
        ours.wait(timeout=5)
        assert other.poll() is None
        assert not gs.is_ours(ours.pid, spec)
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait()


# --- provider: diff and input checks ---------------------------------------------------


def props(**changes: Any) -> dict[str, Any]:
    base = {
        "stack": "chunan",
        "bridge": "rs330127",
        "cidr": "10.203.2.0/24",
        "gateway": "10.203.2.1",
        "prefix_length": 24,
        "hosts": {"chunan-portal-1": "10.203.2.2"},
        "dns_domain": "chunan.internal",
        "state_root": "/var/lib/regionstack/local",
        "apt_upstream": "http://deb.debian.org/debian",
    }
    return {**base, **changes}


@pytest.mark.parametrize("key", network.REPLACE_KEYS)
def test_identity_changes_replace(key: str) -> None:
    new = {"prefix_length": 25} if key == "prefix_length" else {key: "changed"}
    result = NetworkProvider().diff("id", {**props(), "healthy": True}, props(**new))
    assert result.changes and result.replaces == [key] and result.delete_before_replace


@pytest.mark.parametrize(
    "change",
    [
        {"hosts": {"chunan-portal-1": "10.203.2.2", "chunan-portal-2": "10.203.2.3"}},
        {"dns_domain": "chunan.example"},
        {"apt_upstream": "http://mirror.example/debian"},
    ],
)
def test_service_changes_update_in_place(change: dict[str, Any]) -> None:
    result = NetworkProvider().diff("id", {**props(), "healthy": True}, props(**change))
    assert result.changes and not result.replaces


def test_unhealthy_state_is_repaired_and_healthy_is_left_alone() -> None:
    provider = NetworkProvider()
    assert provider.diff("id", {**props(), "healthy": False}, props()).changes
    assert not provider.diff("id", {**props(), "healthy": True}, props()).changes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prefix_length": 25}, "prefix_length 25 does not match"),
        ({"gateway": "10.203.3.1"}, "gateway 10.203.3.1 is not in"),
        ({"bridge": "rs-330127-toolong"}, "bridge name"),
        ({"hosts": {"stray": "10.9.9.9"}}, "not in 10.203.2.0/24"),
        ({"apt_upstream": "mirror/debian"}, "apt_upstream"),
        ({"dns_domain": "chunan internal"}, "dns_domain"),
        ({"hosts": {"Chunan_Portal": "10.203.2.2"}}, "host name"),
    ],
)
def test_inconsistent_inputs_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(NetworkError, match=message):
        network.validate(props(**change))


def test_state_root_must_be_traversable(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(NetworkError, match="not traversable"):
        network.validate(props(state_root=str(closed / "state")))


def test_bridge_mac_is_fixed_and_locally_administered() -> None:
    mac = network.bridge_mac("rs330127")
    assert mac == network.bridge_mac("rs330127") != network.bridge_mac("rs330100")
    assert mac.startswith("02:") and len(mac.split(":")) == 6
