"""Host checks of the portal role (roles/portal), run against the `portal` group.

    regionstack verify STACK --only portal

Everything the checks compare against (ports, TLS policy, sections, retention, the hotline's
address, the region CA) comes from the inventory the role ran with, so they hold for any
region. HTTP and TLS probes run on the host itself, with Debian's python3, against the
host's own address, the way a citizen's browser reaches it.
"""

import json
import re
import uuid

import pytest

from tests.hosts.helpers import (
    CA,
    TLS_VERSIONS,
    assert_chains_to_region_ca,
    assert_running_and_enabled,
    assert_tls12_cipher_of_the_standard,
    assert_tls_version_policy,
    https,
    own_endpoint_handshake,
    public_ports,
)

GROUP = "portal"
ENV_FILE = "/etc/regionstack/portal.env"
CONFIG_FILE = "/etc/regionstack/portal.json"
UNIT = "regionstack-portal"
MODSECURITY_RULES = "/etc/nginx/regionstack-modsecurity.conf"
HTTPS_PORT = 443

# Runs on the host: a citizen's session posting one form (GET for the CSRF token, then POST).
SUBMIT = r"""
import http.cookiejar, json, re, ssl, sys, urllib.error, urllib.parse, urllib.request
base, path, fields, ca = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
opener = urllib.request.build_opener(
    urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
    urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca)))
form = opener.open(base + path, timeout=30).read().decode()
fields["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
try:
    response = opener.open(base + path, urllib.parse.urlencode(fields).encode(), timeout=60)
except urllib.error.HTTPError as error:
    response = error
print(json.dumps({"status": response.status, "body": response.read().decode()}))
"""

SUBMISSION = {
    "service_code": "road_damage",
    "description": "测试：人行道井盖破损，请尽快修复 (regionstack host test)",
    "address_string": "人民路 1 号",
    "first_name": "测试",
    "phone": "13800000000",
}


@pytest.fixture(scope="module")
def base_url(inventory):
    return f"https://{inventory['ansible_host']}"


def submit(host, base_url, path, fields):
    result = host.run("python3 -c %s %s %s %s %s", SUBMIT, base_url, path, json.dumps(fields), CA)
    assert result.rc == 0, f"submitting {path} failed on {host.backend.hostname}: {result.stderr}"
    return json.loads(result.stdout)


# --- packages and units


@pytest.mark.parametrize(
    "package",
    [
        "python3-flask",
        "gunicorn",
        "nginx",
        "libnginx-mod-http-modsecurity",
        "modsecurity-crs",
        "prometheus-nginx-exporter",
    ],
)
def test_package_is_installed(host, package):
    assert host.package(package).is_installed


@pytest.mark.parametrize("unit", [UNIT, "nginx", "prometheus-nginx-exporter"])
def test_unit_is_enabled_and_running(host, unit):
    assert_running_and_enabled(host, unit)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("User", "portal"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("Restart", "on-failure"),
        ("EnvironmentFiles", f"{ENV_FILE} (ignore_errors=no)"),
    ],
)
def test_unit_is_sandboxed(host, setting, expected):
    assert host.run("systemctl show -P %s %s", setting, UNIT).stdout.strip() == expected


# --- listeners


def test_listens_on_exactly_the_standards_ports(host, config):
    component = set(config["standard"]["components"]["portal"]["listens"])
    common = set(config["standard"]["common"]["listens"])
    assert public_ports(host) - common == component


@pytest.mark.parametrize(
    ("what", "address"),
    [("gunicorn", "127.0.0.1:8000"), ("stub_status", "127.0.0.1:8080")],
)
def test_internal_listener_is_on_loopback(host, what, address):
    assert host.socket(f"tcp://{address}").is_listening, f"{what} does not listen on {address}"
    port = address.rpartition(":")[2]
    assert int(port) not in public_ports(host), f"{what} port {port} is reachable from outside"


# --- files


def test_package_is_deployed_without_bytecode(host):
    assert host.file("/opt/regionstack/portal/portal/app.py").user == "root"
    assert host.file("/opt/regionstack/portal/portal/templates/home.html").is_file
    assert host.file("/opt/regionstack/portal/portal/static/portal.css").is_file
    assert host.run("find /opt/regionstack/portal -name __pycache__").stdout == ""


@pytest.mark.parametrize("path", [ENV_FILE, CONFIG_FILE])
def test_configuration_is_readable_by_the_app_only(host, path):
    file = host.file(path)
    assert (file.user, file.group, file.mode) == ("root", "portal", 0o640)


def test_portal_config_is_the_regions(host, config):
    rendered = json.loads(host.file(CONFIG_FILE).content_string)
    assert rendered == {
        "region": {"code": config["region"]["code"], "name": config["region"]["name"]},
        "sections": config["standard"]["portal"]["sections"],
    }


def test_environment_points_at_the_first_hotline(host, region, config):
    address = region.hosts_of("hotline")[0].address
    port = next(f for f in config["standard"]["flows"] if f["name"] == "portal-to-hotline")[
        "ports"
    ][0]
    env = host.file(ENV_FILE)
    assert env.contains(f"^PORTAL_HOTLINE_URL=https://{re.escape(address)}:{port}$")
    assert env.contains(f"^PORTAL_HOTLINE_CA_FILE={CA}$")
    assert host.run("grep -Eq %s %s", "^PORTAL_SECRET_KEY=.{16,}$", ENV_FILE).rc == 0


# --- the site


def test_home_shows_every_standard_section(host, base_url, config):
    page = https(host, f"{base_url}/")
    assert page["status"] == 200
    missing = [
        s["title"]
        for s in config["standard"]["portal"]["sections"]
        if s["title"] not in page["body"]
    ]
    assert not missing, f"sections missing from the home page: {missing}"
    assert config["region"]["name"] in page["body"]


def test_http_redirects_to_https(host, inventory):
    response = https(host, f"http://{inventory['ansible_host']}/status?ticket=1")
    assert response["status"] == 301
    assert response["headers"]["location"] == f"https://{inventory['ansible_host']}/status?ticket=1"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("strict-transport-security", "includeSubDomains"),
        ("content-security-policy", "default-src 'self'"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("permissions-policy", "camera=()"),
    ],
)
def test_security_header(host, base_url, header, expected):
    headers = https(host, f"{base_url}/")["headers"]
    assert expected in headers.get(header, ""), f"{header}: {headers.get(header)}"


def test_hsts_lasts_at_least_a_year(host, base_url):
    hsts = https(host, f"{base_url}/")["headers"]["strict-transport-security"]
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000


def test_only_nginx_sets_the_csp(host, base_url):
    # The app sends its own CSP too; two policies would both apply and confuse reviews.
    headers = https(host, f"{base_url}/")["all_headers"]
    policies = [value for name, value in headers if name == "content-security-policy"]
    assert len(policies) == 1, policies


def test_server_version_is_hidden(host, base_url):
    assert https(host, f"{base_url}/")["headers"]["server"] == "nginx"


@pytest.mark.parametrize(
    "attack",
    [
        "/?id=1'%20OR%20'1'='1",
        "/status?ticket=%3Cscript%3Ealert(1)%3C/script%3E",
        "/?file=../../../../etc/passwd",
    ],
)
def test_waf_blocks_attacks(host, base_url, attack):
    assert https(host, f"{base_url}{attack}")["status"] == 403


@pytest.mark.parametrize(
    "path", ["/", "/sections/administration", "/submit", "/evaluate", "/status"]
)
def test_waf_lets_pages_through(host, base_url, path):
    assert https(host, f"{base_url}{path}")["status"] == 200


def test_modsecurity_is_on_for_the_site(host):
    assert re.search(r"^\s*modsecurity on;", host.run("nginx -T").stdout, re.M)


@pytest.mark.parametrize(
    "directive",
    [
        r"^SecRuleEngine On$",
        r"^Include /etc/modsecurity/crs/crs-setup\.conf$",
        r"^Include /usr/share/modsecurity-crs/rules/\*\.conf$",
        r"setvar:tx\.paranoia_level=1\b",
        # Headers and matched rules only: submissions carry citizens' contact details.
        r"^SecAuditLogParts ABHZ$",
    ],
)
def test_modsecurity_rules_block_with_the_crs(host, directive):
    assert host.file(MODSECURITY_RULES).contains(directive)


@pytest.mark.parametrize("version", TLS_VERSIONS)
def test_tls_version_policy(host, inventory, standard, version):
    """TLS below the standard's minimum is refused by the server, the rest accepted."""
    result = own_endpoint_handshake(host, inventory, HTTPS_PORT, version=version)
    assert_tls_version_policy(result, version, standard["tls"]["min_version"])


def test_certificate_chains_to_the_region_ca(host, inventory):
    ca_pem = inventory["regionstack_tls_ca_pem"]
    result = own_endpoint_handshake(host, inventory, HTTPS_PORT)
    assert_chains_to_region_ca(result, ca_pem, host.backend.hostname)


def test_tls12_uses_a_cipher_of_the_standard(host, inventory, standard):
    assert_tls12_cipher_of_the_standard(host, inventory, standard, HTTPS_PORT)


def test_default_site_is_gone(host):
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_exporter_reads_nginx(host):
    metrics = host.run(
        "python3 -c %s",
        "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9113/metrics').read().decode())",
    ).stdout
    assert "\nnginx_up 1\n" in metrics


def test_logs_are_kept_for_the_retention_period(host, config):
    rotation = host.file("/etc/logrotate.d/regionstack-portal-nginx")
    assert rotation.contains(rf"^\s*rotate {config['standard']['log_retention_days']}$")
    assert rotation.contains(r"^\s*daily$")
    assert host.file("/var/log/nginx/regionstack/portal-access.log").is_file


def test_access_log_records_time_client_request_and_status(host, base_url):
    """An audit record says when, who (the client's address), what and whether it
    succeeded (mlps-8.1.3.5b): nginx's `combined` format, checked on a request of our own."""
    marker = f"/audit-{uuid.uuid4()}"
    status = https(host, f"{base_url}{marker}")["status"]
    line = host.check_output(
        "grep -F %s /var/log/nginx/regionstack/portal-access.log | tail -n 1", marker
    )
    record = re.match(r'^(\S+) \S+ \S+ \[([^]]+)\] "GET (\S+) [^"]+" (\d{3}) ', line)
    assert record, f"not a combined-format record: {line!r}"
    address, when, path, logged = record.groups()
    assert address and re.match(r"\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$", when), line
    assert (path, int(logged)) == (marker, status), line


# --- the citizen's flow through the hotline


def test_evaluation_reaches_the_hotline(host, base_url):
    response = submit(host, base_url, "/evaluate", {"rating": "5", "comment": "测试评价"})
    assert response["status"] == 200, response["body"]
    assert "感谢您的评价" in response["body"]


def test_submission_becomes_a_ticket_that_status_finds(host, base_url, config):
    # Needs the exchange (data_exchange role): without a bound queue the hotline answers 503.
    response = submit(host, base_url, "/submit", dict(SUBMISSION))
    assert response["status"] == 200, re.findall(r'class="error"[^>]*>([^<]*)', response["body"])
    ticket = re.search(r'class="ticket">([^<]+)<', response["body"]).group(1)
    assert ticket.startswith(config["region"]["code"] + "-")
    status = https(host, f"{base_url}/status?ticket={ticket}")
    assert status["status"] == 200
    assert f'class="ticket">{ticket}<' in status["body"]
    assert "已受理" in status["body"]
