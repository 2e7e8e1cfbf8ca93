"""What the citizen-request suites do on a configured region: a citizen at the portal, the
call centre at the hotline, and an auditor reading the exchanges' archives.

The controller plays the internet and the call centre (in the local target both are the
gateway address, as the flow matrix resolves them); everything it reaches is one of the
regions' own hosts.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import yaml

from tests.e2e.local.hierarchy import Deployment, Region

TIMEOUT_S = 20
HOTLINE_API = "/open311/v2"
VHOST = "/regionstack"
ARCHIVE = "regionstack.work_orders.archive"
UPLINK = "regionstack.uplink"

# Reads an archive stream from its first message on the region's hotline host, the one
# host besides the portal that the flow matrix lets reach the exchange's AMQPS port.
READ_ARCHIVE = """
import json, ssl, sys, pika
user, password, host, vhost, queue = sys.argv[1:6]
context = ssl.create_default_context(cafile="/etc/regionstack/tls/ca.pem")
params = pika.ConnectionParameters(
    host=host, port=5671, virtual_host=vhost,
    credentials=pika.PlainCredentials(user, password),
    ssl_options=pika.SSLOptions(context, server_hostname=host))
connection = pika.BlockingConnection(params)
channel = connection.channel()
channel.basic_qos(prefetch_count=1000)
ids = []
for method, _, body in channel.consume(
        queue, arguments={"x-stream-offset": "first"}, inactivity_timeout=3):
    if method is None:
        break
    ids.append(json.loads(body)["service_request_id"])
    channel.basic_ack(method.delivery_tag)
connection.close()
print(json.dumps(ids))
"""


class _NamedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address, verifying the certificate against the host's name."""

    def __init__(self, address: str, port: int, name: str, context: ssl.SSLContext) -> None:
        super().__init__(address, port, timeout=TIMEOUT_S, context=context)
        self._name = name
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self._name)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpsClient:
    name: str
    address: str
    port: int
    ca_pem: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        context = ssl.create_default_context(cadata=self.ca_pem)
        connection = _NamedHTTPSConnection(self.address, self.port, self.name, context)
        sent = {"Host": self.name, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    cookie = value.split(";", 1)[0]
                    key, _, val = cookie.partition("=")
                    self.cookies[key.strip()] = val.strip()
            return Response(response.status, dict(response.getheaders()), text)
        finally:
            connection.close()


def _host_vars(region: Region, host: str) -> dict[str, Any]:
    path = region.inventory.host_vars_dir / f"{host}.yml"
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def _group_vars(region: Region) -> dict[str, Any]:
    return dict(yaml.safe_load(region.inventory.group_vars.read_text(encoding="utf-8")))


def client(region: Region, component: str, port: int) -> HttpsClient:
    host = region.plan.hosts_of(component)[0]
    ca_pem = _host_vars(region, host.name)["regionstack_tls_ca_pem"]
    return HttpsClient(host.name, host.address, port, ca_pem)


# --- the citizen at the portal -------------------------------------------------------


def submit_on_portal(region: Region, description: str) -> str:
    """Fill in the portal's submission form as a citizen would; the ticket number."""
    portal = client(region, "portal", 443)
    form = portal.request("GET", "/submit")
    assert form.status == 200, f"GET /submit: {form.status} {form.body[:500]}"
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.body)
    service = re.search(r'<option value="([^"]+)"', form.body)
    assert token and service, "the submission form has no CSRF token or no service list"
    fields = {
        "csrf_token": token[1],
        "service_code": service[1],
        "description": description,
        "address_string": "淳安县千岛湖镇新安东路",
        "first_name": "测试",
    }
    done = portal.request(
        "POST",
        "/submit",
        urlencode(fields),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status == 200, f"POST /submit: {done.status} {done.body[:1000]}"
    ticket = re.search(r'<strong class="ticket">([^<]+)</strong>', done.body)
    assert ticket, f"no ticket number on the confirmation page: {done.body[:1000]}"
    return ticket[1]


def status_on_portal(region: Region, ticket: str) -> str:
    page = client(region, "portal", 443).request("GET", f"/status?ticket={ticket}")
    assert page.status == 200, f"GET /status: {page.status}"
    found = re.search(r'<span class="status">([^<]+)</span>', page.body)
    return found[1] if found else ""


# --- the call centre at the hotline --------------------------------------------------


def hotline_request(region: Region, ticket: str) -> dict[str, Any]:
    response = client(region, "hotline", 8443).request(
        "GET", f"{HOTLINE_API}/requests/{ticket}.json"
    )
    assert response.status == 200, f"{ticket} at the hotline: {response.status} {response.body}"
    return dict(response.json()[0])


def submit_on_hotline(region: Region, description: str) -> str:
    """An Open311 client's request straight to the hotline API (no portal rate limit)."""
    services = client(region, "hotline", 8443).request("GET", f"{HOTLINE_API}/services.json")
    code = services.json()[0]["service_code"]
    response = client(region, "hotline", 8443).request(
        "POST",
        f"{HOTLINE_API}/requests.json",
        json.dumps({"service_code": code, "description": description, "address_string": "淳安县"}),
        {"Content-Type": "application/json"},
    )
    assert response.status == 201, f"POST requests.json: {response.status} {response.body}"
    return str(response.json()[0]["service_request_id"])


def update_status(region: Region, ticket: str, status: str, note: str) -> None:
    token = _group_vars(region)["regionstack_secrets"]["hotline_api_token"]
    response = client(region, "hotline", 8443).request(
        "POST",
        f"{HOTLINE_API}/requests/{ticket}/status",
        json.dumps({"status": status, "note": note}),
        {"Content-Type": "application/json", "X-Hotline-Token": token},
    )
    assert response.status == 200, f"status of {ticket}: {response.status} {response.body}"


# --- the auditor at the exchange -----------------------------------------------------


def _sudo(deployment: Deployment, address: str, command: str, timeout: float = 60) -> str:
    result = deployment.ssh(address, f"sudo -n {command}", timeout=timeout)
    assert result.returncode == 0, f"{address}: {command}: {result.stdout}{result.stderr}"
    return result.stdout


def archived_ids(deployment: Deployment, region: Region) -> list[str]:
    """Every work-order id in the region's exchange archive, in arrival order.

    A throwaway read-only user (read on the archive only) is added for the read and removed
    afterwards, so the check leaves the region as the roles made it.
    """
    exchange = region.plan.hosts_of("data_exchange")[0]
    hotline = region.plan.hosts_of("hotline")[0]
    user, password = f"e2e-auditor-{secrets.token_hex(4)}", secrets.token_hex(16)
    _sudo(deployment, exchange.address, f"rabbitmqctl add_user {user} {password}")
    try:
        _sudo(
            deployment,
            exchange.address,
            f"rabbitmqctl set_permissions -p {VHOST} {user} '^$' '^$' '^{ARCHIVE}$'",
        )
        result = deployment.ssh(
            hotline.address,
            f"sudo -n python3 - {user} {password} {exchange.name} {VHOST} {ARCHIVE}",
            stdin=READ_ARCHIVE,
            timeout=120,
        )
        assert result.returncode == 0, f"reading {ARCHIVE} at {region.stack}: {result.stderr}"
        return list(json.loads(result.stdout))
    finally:
        _sudo(deployment, exchange.address, f"rabbitmqctl delete_user {user}")


def queue_depth(deployment: Deployment, region: Region, queue: str) -> int:
    exchange = region.plan.hosts_of("data_exchange")[0]
    out = _sudo(
        deployment,
        exchange.address,
        f"rabbitmqctl list_queues -p {VHOST} --quiet --no-table-headers name messages",
    )
    for line in out.splitlines():
        name, _, count = line.partition("\t")
        if name.strip() == queue:
            return int(count.strip())
    raise AssertionError(f"no queue {queue} at {region.stack}: {out}")


def set_service(deployment: Deployment, address: str, unit: str, action: str) -> None:
    _sudo(deployment, address, f"systemctl {action} {unit}", timeout=180)
