"""The controller's routes (infra/local/routes.py): which of them a region's CIDR overlaps."""

from __future__ import annotations

import json

from infra.local.routes import overlapping, parse_routes

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
