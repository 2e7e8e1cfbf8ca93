"""Host checks of the portal role (roles/portal), run against the `portal` group.

    .venv/bin/pytest -p no:cacheprovider tests/hosts/test_portal.py \
        --hosts='ansible://portal' --connection=ansible --force-ansible \
        --ansible-inventory=<state>/inventory/<stack>/inventory.yml -q

Everything the checks compare against (ports, TLS policy, sections, retention, the hotline's
address) comes from the inventory the role ran with, so they hold for any region. HTTP and
TLS probes run on the host itself, with Debian's python3 and openssl, against the host's
own address, the way a citizen's browser reaches it.
"""

import json
import re

import pytest

CA = "/etc/regionstack/tls/ca.pem"
ENV_FILE = "/etc/regionstack/portal.env"
CONFIG_FILE = "/etc/regionstack/portal.json"
UNIT = "regionstack-portal"
MODSECURITY_RULES = "/etc/nginx/regionstack-modsecurity.conf"
LOOPBACK = ("127.", "::1")

# Runs on the host: one HTTP(S) request, no redirects followed, result as JSON.
PROBE = r"""
import json, ssl, sys, urllib.error, urllib.request
url, method, body, headers, ca = sys.argv[1:6]
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
                  "body": response.read().decode("utf-8", "replace")}))
"""

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
def inventory(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def config(inventory):
    return inventory["regionstack_config"]


@pytest.fixture(scope="module")
def base_url(inventory):
    return f"https://{inventory['ansible_host']}"


def https(host, url, method="GET", body="", headers=None):
    result = host.run(
        "python3 -c %s %s %s %s %s %s",
        PROBE,
        url,
        method,
        body,
        json.dumps(headers or {}),
        CA,
    )
    assert result.rc == 0, f"probe of {url} failed on {host.backend.host}: {result.stderr}"
    return json.loads(result.stdout)


def submit(host, base_url, path, fields):
    result = host.run("python3 -c %s %s %s %s %s", SUBMIT, base_url, path, json.dumps(fields), CA)
    assert result.rc == 0, f"submitting {path} failed on {host.backend.host}: {result.stderr}"
    return json.loads(result.stdout)


def journal(host, unit):
    return host.run("journalctl -u %s -n 30 --no-pager", unit).stdout


def public_ports(host):
    ports = set()
    for socket in host.socket.get_listening_sockets():
        proto, _, address = socket.partition("://")
        if proto not in ("tcp", "udp"):
            continue
        ip, _, port = address.rpartition(":")
        if not ip.startswith(LOOPBACK):
            ports.add(int(port))
    return ports


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
    service = host.service(unit)
    assert service.is_enabled, f"{unit} is not enabled"
    assert service.is_running, f"{unit} is not running:\n{journal(host, unit)}"


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


def test_environment_points_at_the_first_hotline(host, inventory, config):
    hotline = inventory["groups"]["hotline"][0]
    address = host.backend.ansible_runner.get_variables(hotline)["ansible_host"]
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
    result = host.run(
        "python3 -c %s %s %s",
        "import ssl, sys, urllib.request as u; "
        "r = u.urlopen(sys.argv[1], context=ssl.create_default_context(cafile=sys.argv[2])); "
        "print(len(r.headers.get_all('Content-Security-Policy')))",
        f"{base_url}/",
        CA,
    )
    assert result.stdout.strip() == "1"


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


@pytest.mark.parametrize("version", ["tls1", "tls1_1"])
def test_old_tls_is_refused(host, inventory, version):
    result = host.run(
        "openssl s_client -connect %s:443 -%s -CAfile %s </dev/null",
        inventory["ansible_host"],
        version,
        CA,
    )
    assert result.rc != 0
    assert "Cipher is (NONE)" in result.stdout


def test_tls12_is_accepted_with_a_standard_cipher(host, inventory, config):
    result = host.run(
        "openssl s_client -connect %s:443 -tls1_2 -CAfile %s -verify_ip %s -verify_return_error </dev/null",
        inventory["ansible_host"],
        CA,
        inventory["ansible_host"],
    )
    assert result.rc == 0, result.stderr
    cipher = result.stdout.split("Cipher is ")[1].split()[0]
    assert cipher in config["standard"]["tls"]["ciphers"]


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
