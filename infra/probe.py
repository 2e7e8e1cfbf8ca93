"""`regionstack probe STACK`: a citizen's view of a deployed region, from outside its hosts.

For every portal host of the region, through the inventory `regionstack inventory` wrote:
HTTPS answers 200 with a certificate that chains to the region's CA and names the host,
over TLS 1.2 or newer; every section of the standard is on the page; plain HTTP redirects
to HTTPS. The full host-level evidence is `regionstack verify` (testinfra); this is the
quick answer an operator wants after `pulumi up`, and what the main job checks.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.inventory import inventory_dir

TIMEOUT_SECONDS = 10


class ProbeError(Exception):
    """The region cannot be probed (no inventory); the message says what to do."""


@dataclass(frozen=True)
class Check:
    host: str
    what: str
    ok: bool
    detail: str


def _load(directory: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    inventory_file = directory / "inventory.yml"
    if not inventory_file.is_file():
        raise ProbeError(
            f"no inventory at {inventory_file}: run `regionstack inventory {directory.name}` "
            "after `pulumi up`"
        )
    inventory = yaml.safe_load(inventory_file.read_text(encoding="utf-8"))
    group_vars = yaml.safe_load((directory / "group_vars" / "all.yml").read_text(encoding="utf-8"))
    host_vars = {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((directory / "host_vars").glob("*.yml"))
    }
    return inventory, group_vars, host_vars


def _tls_context(ca_pem: str, minimum: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem)
    context.minimum_version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[
        minimum
    ]
    return context


def _get(
    host: str, address: str, port: int, context: ssl.SSLContext | None
) -> tuple[int, dict[str, str], str, str]:
    connection: http.client.HTTPConnection
    if context is None:
        connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT_SECONDS)
    else:
        connection = http.client.HTTPSConnection(
            address, port, timeout=TIMEOUT_SECONDS, context=context
        )
    try:
        connection.request("GET", "/", headers={"Host": host})
        version = ""
        if isinstance(connection.sock, ssl.SSLSocket):
            version = connection.sock.version() or ""
        response = connection.getresponse()
        body = response.read().decode("utf-8", errors="replace")
        return response.status, dict(response.getheaders()), body, version
    finally:
        connection.close()


def probe_portals(
    stack: str, directory: Path | None = None, *, https_port: int = 443, http_port: int = 80
) -> list[Check]:
    inventory, group_vars, host_vars = _load(directory or inventory_dir(stack))
    config = group_vars["regionstack_config"]
    portals = inventory["all"]["children"].get("portal", {}).get("hosts", {})
    if not portals:
        raise ProbeError(f"the inventory of {stack} has no portal hosts")
    sections = [s["title"] for s in config["standard"]["portal"]["sections"]]
    checks: list[Check] = []
    for host, values in sorted(portals.items()):
        address = values["ansible_host"]
        ca_pem = host_vars[host]["regionstack_tls_ca_pem"]
        context = _tls_context(ca_pem, config["standard"]["tls"]["min_version"])
        # Connected by address here; `_certificate_names_host` checks the name.
        context.check_hostname = False
        try:
            status, _, body, version = _get(host, address, https_port, context)
        except (OSError, ssl.SSLError) as err:
            checks.append(Check(host, "https", False, f"{address}:{https_port}: {err}"))
            continue
        checks.append(Check(host, "https", status == 200, f"{status} over {version}"))
        missing = [title for title in sections if title not in body]
        checks.append(
            Check(
                host,
                "sections",
                not missing,
                f"all {len(sections)} present" if not missing else f"missing: {', '.join(missing)}",
            )
        )
        checks.append(_certificate_names_host(host, address, https_port, ca_pem))
        try:
            status, headers, _, _ = _get(host, address, http_port, None)
            location = headers.get("Location", "")
            checks.append(
                Check(
                    host,
                    "http redirect",
                    status == 301 and location.startswith("https://"),
                    f"{status} -> {location or 'no Location'}",
                )
            )
        except OSError as err:
            checks.append(Check(host, "http redirect", False, f"{address}:{http_port}: {err}"))
    return checks


def _certificate_names_host(host: str, address: str, port: int, ca_pem: str) -> Check:
    context = ssl.create_default_context(cadata=ca_pem)
    try:
        with (
            socket.create_connection((address, port), timeout=TIMEOUT_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            subject = dict(item[0] for item in tls.getpeercert()["subject"])  # type: ignore[index, misc]
    except (OSError, ssl.SSLError) as err:
        return Check(host, "certificate", False, str(err))
    return Check(host, "certificate", True, f"CN={subject.get('commonName')}, chains to the CA")


def format_checks(stack: str, checks: list[Check]) -> str:
    lines = [f"probe of {stack}:"]
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        lines.append(f"  {mark} {check.host:<28} {check.what:<14} {check.detail}")
    failed = sum(not c.ok for c in checks)
    lines.append(f"  {len(checks) - failed} passed, {failed} failed")
    return "\n".join(lines)
