"""The gateway's daemons (infra/local/gateway_services.py): their configuration, and which
running processes are ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.local import gateway_services as gs


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
