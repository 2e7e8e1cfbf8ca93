"""The services a local region's gateway address offers its hosts: DNS, time and an apt proxy.

The hosts of a local region reach nothing outside the region (design §5), so the gateway
address on the region's bridge serves what every host needs from outside:

* **DNS** - dnsmasq answers for the region's host names (`<name>` and
  `<name>.<dns_domain>`) from an addn-hosts file and nothing else: no upstream servers,
  no DHCP (hosts have static addresses), bound only to the gateway address.
* **time** - chronyd serves the controller's clock to the region's CIDR (MLPS 8.1.5.4 needs
  one region-internal time). It runs with `-x`, so it never adjusts the controller's clock,
  and `local stratum 10`, so it serves without an upstream source.
* **apt proxy** - apt-cacher-ng on gateway:3142 forwards to the Debian mirror the
  controller itself uses (`apt_upstream`) and, when the controller has one, to its
  security archive (`apt_security_upstream`, served as `/debian-security`, which
  unattended security upgrades need), and to nothing else (`ForceManaged`; CONNECT
  tunnels stay refused). Hosts use it in its URL-prefix mode, which needs neither DNS for
  the mirror's name nor a proxy setting: `deb http://<gateway>:3142/debian bookworm main`
  (see `apt_source_uri`). Requests in proxy mode (`Acquire::http::Proxy`) work too, but
  only for URLs on `apt_upstream` itself, and only when it has no explicit port
  (apt-cacher-ng 3.7 does not match a remap prefix that carries one).

Each daemon runs detached (it daemonizes itself) with its configuration, pid file, logs
and data in the region's state directory, so regions never share a file or a socket.
A daemon counts as ours only when /proc/<pid>/cmdline shows its binary and our
configuration path; nothing else is ever signalled.

Rendering is pure and unit-tested; `start`, `stop` and the probes touch the system.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from urllib.parse import urlsplit

from infra.local.proc import cmdline, read_pid

DNS_PORT = 53
NTP_PORT = 123
APT_PROXY_PORT = 3142
APT_PATH = "debian"  # hosts' sources: http://<gateway>:3142/debian
APT_SECURITY_PATH = "debian-security"  # and http://<gateway>:3142/debian-security


@dataclass(frozen=True)
class GatewayPort:
    service: str
    protocol: str  # "tcp" or "udp"
    port: int


# What hosts may reach on the gateway: the firewall opens exactly these (one home).
GATEWAY_PORTS: tuple[GatewayPort, ...] = (
    GatewayPort("dns", "udp", DNS_PORT),
    GatewayPort("dns", "tcp", DNS_PORT),  # answers too large for UDP retry over TCP
    GatewayPort("ntp", "udp", NTP_PORT),
    GatewayPort("apt-proxy", "tcp", APT_PROXY_PORT),
)

# apt-cacher-ng 3.7.4 (bookworm) keeps a backend's port in a signed 16-bit number.
ACNG_MAX_UPSTREAM_PORT = 32767
DNS_NAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")
SERVICE_USERS = {"chronyd": "_chrony", "apt_cacher_ng": "apt-cacher-ng"}
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0


class GatewayServiceError(RuntimeError):
    """A gateway service could not be started or stopped; the message says why."""


def apt_source_uri(gateway: str, path: str = APT_PATH) -> str:
    """The Debian archive as hosts of the region see it, through the gateway's apt proxy."""
    return f"http://{gateway}:{APT_PROXY_PORT}/{path}"


def apt_sources(gateway: str, suite: str, security_upstream: str | None) -> list[dict[str, object]]:
    """The hosts' apt sources (roles' `regionstack_apt_sources`): the gateway's proxy of the
    controller's mirror, and of its security archive when it has one."""
    sources: list[dict[str, object]] = [
        {"uri": apt_source_uri(gateway), "suites": [suite, f"{suite}-updates"]}
    ]
    if security_upstream is not None:
        sources.append(
            {"uri": apt_source_uri(gateway, APT_SECURITY_PATH), "suites": [f"{suite}-security"]}
        )
    return sources


@dataclass(frozen=True)
class GatewayConfig:
    stack: str
    cidr: str
    gateway: str
    hosts: Mapping[str, str]  # host name -> address
    dns_domain: str
    apt_upstream: str
    state_dir: Path  # <state_root>/<stack>/network
    # The controller's security archive; None when its apt has none (then hosts get no
    # security suite either, and `regionstack` says so in the hosts' apt sources).
    apt_security_upstream: str | None = None
    # Where apt-cacher-ng keeps packages; None keeps them in state_dir (gone on destroy).
    apt_cache_dir: Path | None = None

    @property
    def acng_cache_dir(self) -> Path:
        return self.apt_cache_dir or self.state_dir / "apt-cacher-ng" / "cache"

    def __post_init__(self) -> None:
        network = IPv4Network(self.cidr, strict=True)
        if IPv4Address(self.gateway) not in network:
            raise ValueError(f"gateway {self.gateway} is not in {self.cidr}")
        for name, address in self.hosts.items():
            if IPv4Address(address) not in network:
                raise ValueError(f"host {name} address {address} is not in {self.cidr}")
        if not DNS_NAME.fullmatch(self.dns_domain):
            raise ValueError(f"dns_domain {self.dns_domain!r} is not a DNS name (RFC 1123)")
        for name in self.hosts:
            if not DNS_NAME.fullmatch(name):
                raise ValueError(f"host name {name!r} is not a DNS name (RFC 1123)")
        upstream_host(self.apt_upstream)  # validates
        if self.apt_security_upstream is not None:
            upstream_host(self.apt_security_upstream)


def upstream_host(apt_upstream: str) -> str:
    """`host[:port]/path` of the upstream mirror URI: how proxy-mode requests name it."""
    parts = urlsplit(apt_upstream)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"apt_upstream {apt_upstream!r} must be an http(s) URI of a Debian mirror, "
            "e.g. http://deb.debian.org/debian"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"apt_upstream {apt_upstream!r} must not carry credentials or a query")
    if parts.port is not None and parts.port > ACNG_MAX_UPSTREAM_PORT:
        raise ValueError(
            f"apt_upstream {apt_upstream!r}: apt-cacher-ng 3.7 cannot reach ports above "
            f"{ACNG_MAX_UPSTREAM_PORT} (it answers 503 Connection refused); use a lower port"
        )
    return f"{parts.netloc}{parts.path.rstrip('/')}"


# --- configuration files (pure) --------------------------------------------------------


def addn_hosts(cfg: GatewayConfig) -> str:
    lines = [
        f"{address} {name} {name}.{cfg.dns_domain}"
        for name, address in sorted(cfg.hosts.items(), key=lambda i: (IPv4Address(i[1]), i[0]))
    ]
    return "".join(f"{line}\n" for line in lines)


def dnsmasq_conf(cfg: GatewayConfig) -> str:
    d = cfg.state_dir
    return f"""\
# dnsmasq of region {cfg.stack}: host names only, on the gateway address only.
# Generated by regionstack; rewritten on every change.
bind-interfaces
listen-address={cfg.gateway}
port={DNS_PORT}
# No upstream: hosts resolve the region's names and nothing outside it.
no-resolv
no-poll
no-hosts
addn-hosts={d / "hosts"}
local=/{cfg.dns_domain}/
domain-needed
bogus-priv
# No DHCP: hosts have static addresses from the region plan.
pid-file={d / "dnsmasq.pid"}
log-facility={d / "dnsmasq.log"}
"""


def chrony_conf(cfg: GatewayConfig) -> str:
    d = cfg.state_dir / "chrony"
    return f"""\
# chronyd of region {cfg.stack}: serves the controller's clock to the region.
# Generated by regionstack. Started with -x: it never adjusts the controller's clock.
bindaddress {cfg.gateway}
port {NTP_PORT}
allow {cfg.cidr}
local stratum 10
# No command port and no command socket: regions must not share /run/chrony.
cmdport 0
bindcmdaddress /
pidfile {d / "chronyd.pid"}
driftfile {d / "drift"}
"""


def acng_conf(cfg: GatewayConfig) -> str:
    d = cfg.state_dir / "apt-cacher-ng"
    return f"""\
# apt-cacher-ng of region {cfg.stack}: the controller's Debian mirror and security archive.
# Generated by regionstack.
Port: {APT_PROXY_PORT}
BindAddress: {cfg.gateway}
CacheDir: {cfg.acng_cache_dir}
LogDir: {d / "log"}
SupportDir: /usr/lib/apt-cacher-ng
SocketPath: {d / "run" / "socket"}
PidFile: {d / "run" / "pid"}
ReportPage: acng-report.html
# Only the remapped repository below is served; other URLs get 403 and CONNECT
# (https tunnels) stays refused (PassThroughPattern is unset).
ForceManaged: 1
Remap-debrep: {upstream_host(cfg.apt_upstream)} /{APT_PATH} ; {cfg.apt_upstream.rstrip("/")}
{_security_remap(cfg)}ExThreshold: 4
"""


def _security_remap(cfg: GatewayConfig) -> str:
    if cfg.apt_security_upstream is None:
        return ""
    upstream = cfg.apt_security_upstream
    return (
        f"Remap-secrep: {upstream_host(upstream)} /{APT_SECURITY_PATH} ; {upstream.rstrip('/')}\n"
    )


# --- the daemons -----------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # key in the Network's `pids` output
    binary: str  # basename of argv[0] of the running daemon
    argv: tuple[str, ...]
    marker: str  # an argv element naming our configuration: what makes a process ours
    pid_file: Path
    files: Mapping[Path, str]
    dirs: tuple[tuple[Path, str | None], ...]  # (dir, owner) created before the files
    log_file: Path | None = None
    user: str | None = None  # the user the daemon runs as, when not root


def _binary(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join(["/usr/sbin", "/usr/bin", "/sbin", "/bin"]))
    return found or f"/usr/sbin/{name}"


def services(cfg: GatewayConfig) -> tuple[ServiceSpec, ...]:
    d = cfg.state_dir
    dnsmasq_path = d / "dnsmasq.conf"
    chrony_path = d / "chrony.conf"
    acng = d / "apt-cacher-ng"
    acng_confdir = acng / "conf"
    acng_user = SERVICE_USERS["apt_cacher_ng"]
    return (
        ServiceSpec(
            name="dnsmasq",
            binary="dnsmasq",
            argv=(_binary("dnsmasq"), f"--conf-file={dnsmasq_path}"),
            marker=f"--conf-file={dnsmasq_path}",
            pid_file=d / "dnsmasq.pid",
            files={dnsmasq_path: dnsmasq_conf(cfg), d / "hosts": addn_hosts(cfg)},
            dirs=((d, None),),
            log_file=d / "dnsmasq.log",
        ),
        ServiceSpec(
            name="chronyd",
            binary="chronyd",
            # -l: errors land in our log, not in a syslog the controller may not run.
            argv=(
                _binary("chronyd"),
                "-x",
                "-l",
                str(d / "chrony" / "chronyd.log"),
                "-f",
                str(chrony_path),
            ),
            marker=str(chrony_path),
            pid_file=d / "chrony" / "chronyd.pid",
            files={chrony_path: chrony_conf(cfg)},
            dirs=((d, None), (d / "chrony", SERVICE_USERS["chronyd"])),
            log_file=d / "chrony" / "chronyd.log",
            user=SERVICE_USERS["chronyd"],  # chronyd drops to it by itself
        ),
        ServiceSpec(
            name="apt_cacher_ng",
            binary="apt-cacher-ng",
            # apt-cacher-ng has no user switch of its own; it needs no privilege at all.
            argv=(
                _binary("setpriv"),
                f"--reuid={acng_user}",
                f"--regid={acng_user}",
                "--init-groups",
                _binary("apt-cacher-ng"),
                "-c",
                str(acng_confdir),
            ),
            marker=str(acng_confdir),
            pid_file=acng / "run" / "pid",
            files={acng_confdir / "acng.conf": acng_conf(cfg)},
            dirs=(
                (d, None),
                (acng, None),
                (acng_confdir, None),
                (cfg.acng_cache_dir.parent, None),
                (cfg.acng_cache_dir, acng_user),
                (acng / "log", acng_user),
                (acng / "run", acng_user),
            ),
            log_file=acng / "log" / "apt-cacher.err",
            user=acng_user,
        ),
    )


def is_ours(pid: int | None, spec: ServiceSpec) -> bool:
    """True when `pid` is alive and runs `spec`'s daemon with our configuration."""
    if not pid or pid <= 0:
        return False
    argv = cmdline(pid)
    return bool(argv) and Path(argv[0]).name == spec.binary and spec.marker in argv


def find_running(spec: ServiceSpec) -> list[int]:
    """Every live process that is `spec`'s daemon with our configuration.

    The pid file names the daemon normally; scanning /proc also finds one whose pid file a
    killed run never wrote or a later start overwrote, so nothing of ours is left behind.
    """
    found = set()
    pid = read_pid(spec.pid_file)
    if is_ours(pid, spec):
        assert pid is not None
        found.add(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and is_ours(int(entry.name), spec):
            found.add(int(entry.name))
    return sorted(found)


def write_files(spec: ServiceSpec) -> bool:
    """Create the daemon's directories and files; True when any file changed."""
    for directory, owner in spec.dirs:
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(directory, entry.pw_uid, entry.pw_gid)
    changed = False
    for path, content in spec.files.items():
        try:
            if path.read_text() == content:
                continue
        except OSError:
            pass
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(content)
        tmp.chmod(0o644)
        tmp.replace(path)
        changed = True
    return changed


def _tail(path: Path | None, lines: int = 10) -> str:
    if path is None:
        return ""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start(spec: ServiceSpec) -> int:
    """Start the daemon (it detaches itself) and return its verified pid."""
    if spec.user is not None:
        try:
            pwd.getpwnam(spec.user)
        except KeyError:
            raise GatewayServiceError(
                f"{spec.name}: user {spec.user} does not exist; install the Debian package that "
                "creates it (chrony, apt-cacher-ng)"
            ) from None
    with contextlib.suppress(FileNotFoundError):
        spec.pid_file.unlink()
    result = subprocess.run(
        spec.argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S * 2,
        start_new_session=True,  # never in the caller's process group or session
        check=False,
    )
    if result.returncode != 0:
        raise GatewayServiceError(
            f"{spec.name} failed to start (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()} {_tail(spec.log_file)}".strip()
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        pid = read_pid(spec.pid_file)
        if is_ours(pid, spec):
            assert pid is not None
            return pid
        time.sleep(0.02)
    raise GatewayServiceError(
        f"{spec.name} did not stay up (no live pid in {spec.pid_file} after "
        f"{START_TIMEOUT_S:.0f} s): {_tail(spec.log_file)}".strip()
    )


def stop(spec: ServiceSpec, pids: list[int]) -> None:
    """Stop those of `pids` (and any other running copy) that are verifiably ours."""
    targets = sorted({p for p in pids if is_ours(p, spec)} | set(find_running(spec)))
    for pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and any(is_ours(p, spec) for p in targets):
        time.sleep(0.02)
    for pid in targets:
        if is_ours(pid, spec):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- probes: is a service answering? -----------------------------------------------------


def dns_query(server: str, name: str, timeout: float = 2.0) -> tuple[int, list[str]]:
    """(rcode, IPv4 addresses) of an A query; rcode 0 is NOERROR, 3 NXDOMAIN, 5 REFUSED."""
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split("."))
    question += b"\0" + struct.pack("!HH", 1, 1)  # type A, class IN
    query_id = os.getpid() & 0xFFFF
    packet = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, DNS_PORT))
        data = sock.recv(4096)
    answer_id, flags, _qd, answers, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
    if answer_id != query_id:
        raise ValueError("DNS answer to another query")
    offset = 12 + len(question)
    addresses = []
    for _ in range(answers):
        if data[offset] & 0xC0 == 0xC0:  # a compressed name: a 2-byte pointer
            offset += 2
        else:
            while data[offset]:
                offset += data[offset] + 1
            offset += 1
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", data[offset : offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            addresses.append(socket.inet_ntoa(data[offset : offset + 4]))
        offset += length
    return flags & 0xF, addresses


NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def ntp_query(server: str, timeout: float = 2.0) -> tuple[int, float]:
    """(stratum, server time as a Unix timestamp) from one NTPv4 client request."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(bytes([0x23]) + bytes(47), (server, NTP_PORT))  # LI 0, VN 4, mode 3
        data = sock.recv(512)
    if len(data) < 48 or data[0] & 0x7 != 4:
        raise ValueError("not an NTP server reply")
    seconds, fraction = struct.unpack("!II", data[40:48])
    return data[1], seconds - NTP_EPOCH_OFFSET + fraction / 2**32


def http_get(host: str, port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """(status, body) of a plain GET, never through any proxy from the environment."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def probe(spec: ServiceSpec, cfg: GatewayConfig) -> None:
    """Raise unless the service answers on the gateway address."""
    if spec.name == "dnsmasq":
        rcode, _ = dns_query(cfg.gateway, f"probe.{cfg.dns_domain}")
        if rcode not in (0, 3):
            raise GatewayServiceError(f"dnsmasq answered rcode {rcode} for its own domain")
    elif spec.name == "chronyd":
        ntp_query(cfg.gateway)
    else:
        status, _ = http_get(cfg.gateway, APT_PROXY_PORT, "/acng-report.html")
        if status != 200:
            raise GatewayServiceError(f"apt-cacher-ng report page answered {status}")


def wait_answering(spec: ServiceSpec, cfg: GatewayConfig) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            probe(spec, cfg)
            return
        except (OSError, ValueError, GatewayServiceError) as err:
            if time.monotonic() > deadline:
                raise GatewayServiceError(
                    f"{spec.name} is running but does not answer on {cfg.gateway}: {err}"
                ) from err
            time.sleep(0.05)
