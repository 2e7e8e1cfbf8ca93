"""What the host suites share: diagnostics, listeners, and probes run on the hosts.

Probes are small Python programs run with the host's own python3 (Debian's, standard
library only), so they see the network as the host does; each prints one JSON object.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import testinfra
from cryptography import x509
from cryptography.x509.oid import NameOID

from infra.verify.context import VerifyContext

# Where conftest keeps the region under test, for collection-time parametrization too.
CONTEXT = pytest.StashKey[VerifyContext]()

TLS_DIR = "/etc/regionstack/tls"
CA = f"{TLS_DIR}/ca.pem"
CLIENT_CERT = f"{TLS_DIR}/client.pem"
CLIENT_KEY = f"{TLS_DIR}/client.key"
LOOPBACK = ("127.", "::1", "[::1]")

# Every TLS version a client can ask for; the standard's minimum decides which a server
# must accept. The probe lowers its own floor (and OpenSSL's security level) so that it
# really offers TLS 1.0 and 1.1: a refusal then comes from the server.
TLS_VERSIONS = ["TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"]
# Errors raised by the client before it offers anything: no evidence about the server.
_CLIENT_SIDE_ERRORS = ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_SUITABLE")


def verify_context(config: pytest.Config) -> VerifyContext:
    """The region under test (and its parent), as `regionstack verify` resolved them."""
    return config.stash[CONTEXT]


def connect(context: VerifyContext, name: str) -> Any:
    """The testinfra host for `name`, a host of the region or of its parent (cached)."""
    spec, options = context.host_spec(name)
    return testinfra.get_host(spec, **options)


def journal(host: Any, unit: str, lines: int = 40) -> str:
    """The unit's status and last journal lines, for a failure message."""
    status = host.run("systemctl status --no-pager --lines=0 %s", unit).stdout
    log = host.run("journalctl -u %s -n %s --no-pager -o short-iso", unit, str(lines)).stdout
    return f"{status}\n--- journal of {unit} on {host.backend.hostname} ---\n{log}"


def assert_running_and_enabled(host: Any, unit: str) -> None:
    service = host.service(unit)
    assert service.is_running, f"{unit} is not running\n{journal(host, unit)}"
    assert service.is_enabled, f"{unit} does not start at boot\n{journal(host, unit)}"


def listeners(host: Any, protocol: str = "tcp") -> list[tuple[str, int]]:
    """(address, port) of every listening socket of `protocol` (tcp or udp)."""
    flag = {"tcp": "-Hlnt", "udp": "-Hlnu"}[protocol]
    sockets = []
    for line in host.check_output("ss %s", flag).splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        sockets.append((address.strip("[]").split("%")[0], int(port)))
    return sockets


def public_ports(host: Any, protocol: str = "tcp") -> set[int]:
    """Ports listening beyond loopback."""
    return {port for address, port in listeners(host, protocol) if not address.startswith(LOOPBACK)}


def loopback_only(host: Any, port: int) -> tuple[bool, list[str]]:
    """Whether something listens on `port`, and every address it listens on."""
    addresses = [a for a, p in listeners(host) if p == port]
    return bool(addresses), addresses


def run_probe(host: Any, script: str, *args: str) -> Any:
    result = host.run("python3 -W ignore -c %s " + " ".join(["%s"] * len(args)), script, *args)
    assert result.rc == 0, f"probe failed to run on {host.backend.hostname}: {result.stderr}"
    return json.loads(result.stdout)


# --- HTTP(S) --------------------------------------------------------------------------

# One request, redirects not followed; `padding` bytes are appended to the body on the
# host (a large body does not fit on a command line).
HTTP_PROBE = r"""
import json, ssl, sys, urllib.error, urllib.request
url, method, body, headers, ca, padding = sys.argv[1:7]
body += "x" * int(padding)
context = ssl.create_default_context(cafile=ca)
class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
opener = urllib.request.build_opener(Stay, urllib.request.HTTPSHandler(context=context))
request = urllib.request.Request(url, method=method, data=body.encode() or None,
                                 headers=json.loads(headers))
try:
    response = opener.open(request, timeout=30)
except urllib.error.HTTPError as error:
    response = error
print(json.dumps({"status": response.status,
                  "headers": {k.lower(): v for k, v in response.headers.items()},
                  "all_headers": [[k.lower(), v] for k, v in response.headers.items()],
                  "body": response.read().decode("utf-8", "replace")}))
"""


def https(
    host: Any,
    url: str,
    method: str = "GET",
    body: str = "",
    headers: dict[str, str] | None = None,
    padding: int = 0,
) -> dict[str, Any]:
    """One HTTP(S) request from the host itself, trusting the region CA."""
    return dict(
        run_probe(host, HTTP_PROBE, url, method, body, json.dumps(headers or {}), CA, str(padding))
    )


def get_local(host: Any, url: str) -> dict[str, Any]:
    """A plain-HTTP GET (loopback services); status and body."""
    answer = https(host, url)
    return {"status": answer["status"], "body": answer["body"]}


# --- TLS ------------------------------------------------------------------------------

# A handshake pinned to one TLS version (or the default range), optionally with the
# host's client certificate, trusting only the CA chain given in argv (the inventory's);
# then optionally one HTTP request.
TLS_PROBE = r"""
import json, socket, ssl, sys
address, port, server_name, version, client_cert, ca_pem, path = sys.argv[1:8]
context = ssl.create_default_context(cadata=ca_pem)
if version:
    pinned = getattr(ssl.TLSVersion, version)
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = pinned
    context.minimum_version = pinned
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
if client_cert == "yes":
    context.load_cert_chain(%(cert)r, %(key)r)
result = {"stage": "connect"}
try:
    with socket.create_connection((address, int(port)), timeout=10) as raw:
        result["stage"] = "handshake"
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            result["stage"] = "established"
            result["version"] = tls.version()
            result["cipher"] = tls.cipher()[0]
            peer = tls.getpeercert()
            result["issuer"] = dict(item[0] for item in peer["issuer"])
            result["subject"] = dict(item[0] for item in peer["subject"])
            if path:
                tls.sendall(("GET %%s HTTP/1.1\r\nHost: %%s\r\nConnection: close\r\n\r\n"
                             %% (path, server_name)).encode())
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                result["status"] = int(head.split()[1]) if head else 0
                result["body"] = body.decode("utf-8", "replace")
except ssl.SSLError as error:
    result["error"] = repr(error)
    result["reason"] = error.reason or ""
except OSError as error:
    result["error"] = repr(error)
    result["reason"] = type(error).__name__
print(json.dumps(result))
""" % {"cert": CLIENT_CERT, "key": CLIENT_KEY}  # noqa: UP031 - the script has braces of its own


def tls_handshake(
    host: Any,
    address: str,
    port: int,
    server_name: str,
    ca_pem: str,
    *,
    version: str = "",
    client_cert: bool = False,
    path: str = "",
) -> dict[str, Any]:
    return dict(
        run_probe(
            host,
            TLS_PROBE,
            address,
            str(port),
            server_name,
            version,
            "yes" if client_cert else "no",
            ca_pem,
            path,
        )
    )


def own_endpoint_handshake(
    host: Any, inventory: dict[str, Any], port: int, **options: Any
) -> dict[str, Any]:
    """`tls_handshake` with the host's own endpoint on `port`: at the address the inventory
    reaches it by, sending and verifying its host name, against the region's CA chain."""
    return tls_handshake(
        host,
        inventory["ansible_host"],
        port,
        host.backend.hostname,
        inventory["regionstack_tls_ca_pem"],
        **options,
    )


def version_number(version: str) -> float:
    """`TLSv1_2`, `TLSv1.2` or `1.2` -> 1.2 (`TLSv1` -> 1.0)."""
    digits = version.removeprefix("TLSv").replace("_", ".")
    return float(digits if "." in digits else digits + ".0")


# Prometheus prints a duration in its largest exact units (prometheus/common model.Duration):
# 180d stays "180d", but 365d is "1y" and 14d "2w" - the change of log_retention_days from
# 180 to 365 found a test that read only days.
_PROMETHEUS_UNIT_SECONDS = {
    "y": 365 * 86400,
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
    "ms": 0.001,
}
_PROMETHEUS_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")


def prometheus_duration_days(text: str) -> float:
    """`1y`, `52w1d`, `180d`, `36h` -> days; ValueError for anything else."""
    parts = _PROMETHEUS_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(number) * _PROMETHEUS_UNIT_SECONDS[unit] for number, unit in parts) / 86400


def assert_tls_version_policy(result: dict[str, Any], version: str, minimum: str) -> None:
    """The server accepts `version` if the standard allows it, and refuses it otherwise."""
    if version_number(version) >= version_number(minimum):
        assert result.get("stage") == "established", f"{version} refused: {result}"
        assert version_number(result["version"]) == version_number(version), result
    else:
        assert result.get("stage") == "handshake", f"{version} not refused by the server: {result}"
        assert not str(result.get("reason", "")).startswith(_CLIENT_SIDE_ERRORS), (
            f"the probe could not offer {version} at all: {result}"
        )


def assert_tls12_cipher_of_the_standard(
    host: Any, inventory: dict[str, Any], standard: dict[str, Any], port: int
) -> None:
    """A TLS 1.2 handshake with the host's endpoint settles on one of the standard's
    ciphers (TLS 1.3 suites are fixed by OpenSSL; 1.2 is where a server picks badly)."""
    result = own_endpoint_handshake(host, inventory, port, version="TLSv1_2")
    assert result.get("cipher") in standard["tls"]["ciphers"], result


def region_ca_name(ca_pem: str) -> str:
    """The common name of the region's own CA (the first of the inventory's chain)."""
    certificate = x509.load_pem_x509_certificates(ca_pem.encode())[0]
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def assert_chains_to_region_ca(result: dict[str, Any], ca_pem: str, server_name: str) -> None:
    """A handshake verified against the inventory's CA chain and the host's name, with a
    leaf issued by the region's own CA."""
    assert result.get("stage") == "established", (
        f"the certificate does not verify against the region CA for {server_name}: {result}"
    )
    assert result["issuer"].get("commonName") == region_ca_name(ca_pem), result["issuer"]
