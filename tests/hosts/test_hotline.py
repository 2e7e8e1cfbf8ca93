"""Host checks of the hotline role (roles/hotline), run against the `hotline` group.

    .venv/bin/pytest -p no:cacheprovider tests/hosts/test_hotline.py \
        --hosts='ansible://hotline' --connection=ansible --force-ansible \
        --ansible-inventory=<state>/inventory/<stack>/inventory.yml -q

Everything the checks compare against (ports, TLS policy, retention, addresses) comes from
the inventory the role ran with, so they hold for any region. HTTP and TLS probes run on
the host itself, with Debian's python3 and openssl, against the host's own address.
"""

import json
import shlex

import pytest

CA = "/etc/regionstack/tls/ca.pem"
ENV_FILE = "/etc/regionstack/hotline.env"
UNITS = ["regionstack-hotline", "regionstack-hotline-consumer"]
LOOPBACK = ("127.", "::1")

# Runs on the host: one HTTPS request, no redirects followed, result as JSON.
PROBE = r"""
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
                  "body": response.read().decode("utf-8", "replace")}))
"""


@pytest.fixture(scope="module")
def inventory(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def standard(inventory):
    return inventory["regionstack_config"]["standard"]


@pytest.fixture(scope="module")
def base_url(inventory, standard):
    return f"https://{inventory['ansible_host']}:{standard['components']['hotline']['listens'][0]}"


def https(host, url, method="GET", body="", headers=None, padding=0):
    """One request from the host itself; `padding` appends that many bytes to the body
    there (a large body does not fit on a command line)."""
    result = host.run(
        "python3 -c %s %s %s %s %s %s %s",
        PROBE,
        url,
        method,
        body,
        json.dumps(headers or {}),
        CA,
        str(padding),
    )
    assert result.rc == 0, f"probe of {url} failed on {host.backend.host}: {result.stderr}"
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
        "postgresql",
        "python3-psycopg2",
        "python3-flask",
        "python3-psycopg",
        "python3-pika",
        "gunicorn",
        "nginx",
        "prometheus-nginx-exporter",
    ],
)
def test_package_is_installed(host, package):
    assert host.package(package).is_installed


@pytest.mark.parametrize(
    "unit", ["postgresql", "regionstack-hotline", "nginx", "prometheus-nginx-exporter"]
)
def test_unit_is_enabled_and_running(host, unit):
    service = host.service(unit)
    assert service.is_enabled, f"{unit} is not enabled"
    assert service.is_running, f"{unit} is not running:\n{journal(host, unit)}"


def test_consumer_is_enabled_and_not_given_up(host):
    # It retries for ever while the exchange is unreachable (activating), never "failed".
    unit = "regionstack-hotline-consumer"
    state = host.run("systemctl show -P ActiveState %s", unit).stdout.strip()
    assert host.service(unit).is_enabled
    assert state in ("active", "activating"), f"{unit} is {state}:\n{journal(host, unit)}"


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("User", "hotline"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("Restart", "on-failure"),
        ("EnvironmentFiles", f"{ENV_FILE} (ignore_errors=no)"),
    ],
)
def test_unit_is_sandboxed(host, unit, setting, expected):
    assert host.run("systemctl show -P %s %s", setting, unit).stdout.strip() == expected


# --- listeners


def test_listens_on_exactly_the_standards_ports(host, standard):
    component = set(standard["components"]["hotline"]["listens"])
    common = set(standard["common"]["listens"])
    assert public_ports(host) - common == component


@pytest.mark.parametrize(
    ("what", "address"),
    [
        ("gunicorn", "127.0.0.1:8001"),
        ("stub_status", "127.0.0.1:8080"),
        ("postgresql", "127.0.0.1:5432"),
    ],
)
def test_internal_listener_is_on_loopback(host, what, address):
    assert host.socket(f"tcp://{address}").is_listening, f"{what} does not listen on {address}"
    port = address.rpartition(":")[2]
    assert int(port) not in public_ports(host), f"{what} port {port} is reachable from outside"


# --- files


def test_package_is_deployed_without_bytecode(host):
    package = host.file("/opt/regionstack/hotline/hotline")
    assert package.is_directory
    assert package.user == "root"
    assert host.file("/opt/regionstack/hotline/hotline/app.py").user == "root"
    assert host.run("find /opt/regionstack/hotline -name __pycache__").stdout == ""


def test_environment_file_is_readable_by_the_service_only(host):
    env = host.file(ENV_FILE)
    assert (env.user, env.group, env.mode) == ("root", "hotline", 0o640)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^HOTLINE_DATABASE_URL=postgresql://hotline:.+@localhost:5432/hotline\?sslmode=require$",
        r"^HOTLINE_AMQP_URL=amqps://hotline:.+@{exchange}:5671/%2Fregionstack$",
        r"^HOTLINE_REGION_CODE={code}$",
        r"^HOTLINE_API_TOKEN=.+$",
        rf"^SSL_CERT_FILE={CA}$",
    ],
)
def test_environment_names_every_setting(host, inventory, pattern):
    exchange = inventory["groups"]["data_exchange"][0]
    expected = pattern.format(
        exchange=host.backend.ansible_runner.get_variables(exchange)["ansible_host"],
        code=inventory["regionstack_config"]["region"]["code"],
    )
    assert host.run("grep -Eq %s %s", expected, ENV_FILE).rc == 0, f"no line matches {expected}"


# --- database


def psql_as_hotline(host, sql, sslmode="require"):
    # Connects with the service's own URL (read from its env file on the host), so the
    # password never appears in this test or on a command line.
    script = (
        f"set -a; . {ENV_FILE}; "
        f'psql "${{HOTLINE_DATABASE_URL%%\\?*}}?sslmode={sslmode}" -XAtc {shlex.quote(sql)}'
    )
    return host.run("sh -c %s", script)


def test_database_connection_is_tls(host):
    result = psql_as_hotline(
        host, "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()"
    )
    assert result.rc == 0, result.stderr
    ssl, version = result.stdout.strip().split("|")
    assert ssl == "t"
    assert version in ("TLSv1.2", "TLSv1.3")


def test_database_refuses_plaintext(host):
    result = psql_as_hotline(host, "select 1", sslmode="disable")
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr


def test_database_is_owned_by_the_hotline_role(host):
    result = host.run(
        "runuser -u postgres -- psql -XAtc %s",
        "select pg_get_userbyid(datdba) from pg_database where datname = 'hotline'",
    )
    assert result.stdout.strip() == "hotline"


def test_database_role_has_a_scram_password(host):
    result = host.run(
        "runuser -u postgres -- psql -XAtc %s",
        "select rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = 'hotline'",
    )
    assert result.stdout.strip() == "t"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("ssl", "on"), ("listen_addresses", "localhost"), ("password_encryption", "scram-sha-256")],
)
def test_database_setting(host, setting, expected):
    result = host.run("runuser -u postgres -- psql -XAtc %s", f"show {setting}")
    assert result.stdout.strip() == expected


def test_database_tls_minimum_is_the_standards(host, standard):
    result = host.run("runuser -u postgres -- psql -XAtc %s", "show ssl_min_protocol_version")
    assert result.stdout.strip() == f"TLSv{standard['tls']['min_version']}"


def test_pg_hba_admits_only_local_admin_and_hostssl(host):
    rules = host.run(
        "runuser -u postgres -- psql -XAtc %s",
        "select type, database[1], user_name[1], auth_method from pg_hba_file_rules",
    ).stdout.split()
    assert rules
    for rule in rules:
        assert rule in ("local|all|postgres|peer", "hostssl|hotline|hotline|scram-sha-256"), rule


# --- nginx front


def test_api_answers_through_nginx(host, base_url):
    response = https(host, f"{base_url}/open311/v2/services.json")
    assert response["status"] == 200
    assert {s["service_code"] for s in json.loads(response["body"])}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("strict-transport-security", "includeSubDomains"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", "default-src 'none'"),
    ],
)
def test_security_header(host, base_url, header, expected):
    headers = https(host, f"{base_url}/open311/v2/services.json")["headers"]
    assert expected in headers.get(header, ""), f"{header}: {headers.get(header)}"


def test_hsts_lasts_at_least_a_year(host, base_url):
    hsts = https(host, f"{base_url}/open311/v2/services.json")["headers"][
        "strict-transport-security"
    ]
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000


def test_server_version_is_hidden(host, base_url):
    assert https(host, f"{base_url}/open311/v2/services.json")["headers"]["server"] == "nginx"


def test_webhook_requires_the_token(host, base_url):
    response = https(
        host,
        f"{base_url}/webhook/call-centre",
        "POST",
        '{"service_code": "noise"}',
        {"Content-Type": "application/json"},
    )
    assert response["status"] == 403


def test_request_body_is_limited(host, base_url):
    response = https(
        host,
        f"{base_url}/open311/v2/requests.json",
        "POST",
        "description=",
        {"Content-Type": "application/x-www-form-urlencoded"},
        padding=200_000,
    )
    assert response["status"] == 413


@pytest.mark.parametrize("version", ["tls1", "tls1_1"])
def test_old_tls_is_refused(host, inventory, standard, version):
    port = standard["components"]["hotline"]["listens"][0]
    result = host.run(
        "openssl s_client -connect %s:%s -%s -CAfile %s </dev/null",
        inventory["ansible_host"],
        str(port),
        version,
        CA,
    )
    assert result.rc != 0
    assert "Cipher is (NONE)" in result.stdout


def test_tls12_is_accepted_with_a_standard_cipher(host, inventory, standard):
    port = standard["components"]["hotline"]["listens"][0]
    result = host.run(
        "openssl s_client -connect %s:%s -tls1_2 -CAfile %s -verify_ip %s -verify_return_error </dev/null",
        inventory["ansible_host"],
        str(port),
        CA,
        inventory["ansible_host"],
    )
    assert result.rc == 0, result.stderr
    cipher = result.stdout.split("Cipher is ")[1].split()[0]
    assert cipher in standard["tls"]["ciphers"]


def test_default_site_is_gone(host):
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_stub_status_serves_the_exporter_only_on_loopback(host):
    assert host.run(
        "python3 -c %s",
        "import urllib.request as u; "
        "print(u.urlopen('http://127.0.0.1:8080/stub_status').read().decode())",
    ).stdout.startswith("Active connections")


def test_exporter_reads_nginx(host):
    metrics = host.run(
        "python3 -c %s",
        "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9113/metrics').read().decode())",
    ).stdout
    assert "\nnginx_up 1\n" in metrics


def test_access_logs_are_kept_for_the_retention_period(host, standard):
    rotation = host.file("/etc/logrotate.d/regionstack-hotline-nginx")
    assert rotation.contains(rf"^\s*rotate {standard['log_retention_days']}$")
    assert rotation.contains(r"^\s*daily$")
    assert host.file("/var/log/nginx/regionstack/hotline-access.log").is_file
