"""`regionstack probe`: against real HTTPS and HTTP servers on loopback."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import pki
from infra.probe import ProbeError, format_checks, probe_portals

HOST = "chunan-portal-1"
SECTIONS = [
    {"id": "administration", "title": "行政管理"},
    {"id": "public_voice", "title": "民声收集"},
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Portal(http.server.BaseHTTPRequestHandler):
    body = "".join(s["title"] for s in SECTIONS)

    def do_GET(self) -> None:
        if isinstance(self.connection, ssl.SSLSocket):
            payload = f"<html>{self.body}</html>".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        else:
            self.send_response(301)
            self.send_header("Location", "https://chunan-portal-1/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *_: Any) -> None:
        """Quiet."""


def _serve(server: http.server.HTTPServer) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


@pytest.fixture
def region(tmp_path: Path) -> Iterator[tuple[Path, int, int, type[_Portal]]]:
    ca = pki.create_region_ca("330127", "淳安县")
    leaf = pki.issue_server_certificate(
        ca.cert_pem, ca.key_pem, host=HOST, address="127.0.0.1", stack="chunan"
    )
    (tmp_path / "leaf.pem").write_text(leaf.cert_pem + ca.cert_pem)
    (tmp_path / "leaf.key").write_text(leaf.key_pem)
    https_port, http_port = _free_port(), _free_port()
    handler = type("Portal", (_Portal,), {})
    tls = http.server.HTTPServer(("127.0.0.1", https_port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    plain = http.server.HTTPServer(("127.0.0.1", http_port), handler)
    _serve(tls)
    _serve(plain)
    inventory = tmp_path / "inv"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "host_vars").mkdir()
    (inventory / "inventory.yml").write_text(
        yaml.safe_dump(
            {"all": {"children": {"portal": {"hosts": {HOST: {"ansible_host": "127.0.0.1"}}}}}}
        )
    )
    config = {"standard": {"portal": {"sections": SECTIONS}, "tls": {"min_version": "1.2"}}}
    (inventory / "group_vars" / "all.yml").write_text(
        yaml.safe_dump({"regionstack_config": config}, allow_unicode=True)
    )
    (inventory / "host_vars" / f"{HOST}.yml").write_text(
        yaml.safe_dump({"regionstack_tls_ca_pem": ca.cert_pem})
    )
    yield inventory, https_port, http_port, handler
    tls.shutdown()
    plain.shutdown()


def test_a_healthy_portal_passes_every_check(region: tuple[Path, int, int, type[_Portal]]) -> None:
    inventory, https_port, http_port, _ = region
    checks = probe_portals("chunan", inventory, https_port=https_port, http_port=http_port)
    assert {c.what for c in checks} == {"https", "sections", "certificate", "http redirect"}
    assert all(c.ok for c in checks), format_checks("chunan", checks)
    assert "TLSv1." in next(c.detail for c in checks if c.what == "https")


def test_a_missing_section_fails_naming_it(region: tuple[Path, int, int, type[_Portal]]) -> None:
    inventory, https_port, http_port, handler = region
    handler.body = SECTIONS[0]["title"]
    checks = probe_portals("chunan", inventory, https_port=https_port, http_port=http_port)
    failed = [c for c in checks if not c.ok]
    assert [(c.what, c.detail) for c in failed] == [("sections", "missing: 民声收集")]


def test_a_certificate_from_another_ca_fails(region: tuple[Path, int, int, type[_Portal]]) -> None:
    inventory, https_port, http_port, _ = region
    other = pki.create_region_ca("330100", "杭州市")
    (inventory / "host_vars" / f"{HOST}.yml").write_text(
        yaml.safe_dump({"regionstack_tls_ca_pem": other.cert_pem})
    )
    checks = probe_portals("chunan", inventory, https_port=https_port, http_port=http_port)
    assert [(c.what, c.ok) for c in checks] == [("https", False)]
    assert "certificate verify failed" in checks[0].detail


def test_a_closed_port_fails_instead_of_raising(
    region: tuple[Path, int, int, type[_Portal]],
) -> None:
    inventory, https_port, _, _ = region
    checks = probe_portals("chunan", inventory, https_port=https_port, http_port=_free_port())
    redirect = next(c for c in checks if c.what == "http redirect")
    assert not redirect.ok and "refused" in redirect.detail.lower()


def test_no_inventory_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="regionstack inventory"):
        probe_portals("chunan", tmp_path / "none")
