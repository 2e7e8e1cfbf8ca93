"""Host checks of the hotline role (roles/hotline), run against the `hotline` group.

    regionstack verify STACK --only hotline

Everything the checks compare against (ports, TLS policy, retention, addresses, the region
CA) comes from the inventory the role ran with, so they hold for any region. HTTP and TLS
probes run on the host itself, with Debian's python3, against the host's own address.
"""

import json
import shlex

import pytest

from tests.hosts.helpers import (
    CA,
    TLS_VERSIONS,
    assert_chains_to_region_ca,
    assert_running_and_enabled,
    assert_tls12_cipher_of_the_standard,
    assert_tls_version_policy,
    https,
    journal,
    own_endpoint_handshake,
    public_ports,
)

GROUP = "hotline"
ENV_FILE = "/etc/regionstack/hotline.env"
UNITS = ["regionstack-hotline", "regionstack-hotline-consumer"]


@pytest.fixture(scope="module")
def port(standard):
    return standard["components"]["hotline"]["listens"][0]


@pytest.fixture(scope="module")
def base_url(inventory, port):
    return f"https://{inventory['ansible_host']}:{port}"


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
    assert_running_and_enabled(host, unit)


def test_consumer_is_enabled_and_not_given_up(host):
    # It retries for ever while the exchange is unreachable (activating), never "failed".
    unit = "regionstack-hotline-consumer"
    state = host.run("systemctl show -P ActiveState %s", unit).stdout.strip()
    assert host.service(unit).is_enabled, journal(host, unit)
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
def test_environment_names_every_setting(host, region, inventory, pattern):
    expected = pattern.format(
        exchange=region.hosts_of("data_exchange")[0].address,
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
    allowed = ("local|all|postgres|peer", "hostssl|hotline|hotline|scram-sha-256")
    assert rules, "pg_hba.conf has no rules"
    assert [rule for rule in rules if rule not in allowed] == [], rules


def test_database_refuses_an_unknown_user(host):
    """Over TLS, with a password: a role the database does not know is refused."""
    result = host.run(
        "env PGPASSWORD=not-a-password PGCONNECT_TIMEOUT=10 psql -XAtq %s -c 'SELECT 1'",
        "host=127.0.0.1 sslmode=require user=regionstack_nobody dbname=hotline",
    )
    assert result.rc != 0, "an unknown user got in"
    refusals = ("pg_hba.conf rejects", "no pg_hba.conf entry", "authentication failed")
    assert any(refusal in result.stderr for refusal in refusals), result.stderr


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


@pytest.mark.parametrize("version", TLS_VERSIONS)
def test_tls_version_policy(host, inventory, standard, port, version):
    """TLS below the standard's minimum is refused by the server, the rest accepted."""
    result = own_endpoint_handshake(host, inventory, port, version=version)
    assert_tls_version_policy(result, version, standard["tls"]["min_version"])


def test_certificate_chains_to_the_region_ca(host, inventory, port):
    ca_pem = inventory["regionstack_tls_ca_pem"]
    result = own_endpoint_handshake(host, inventory, port)
    assert_chains_to_region_ca(result, ca_pem, host.backend.hostname)


def test_tls12_uses_a_cipher_of_the_standard(host, inventory, standard, port):
    assert_tls12_cipher_of_the_standard(host, inventory, standard, port)


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
