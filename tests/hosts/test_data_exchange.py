"""Host checks of the data_exchange role (roles/data_exchange), run against the
`data_exchange` group of one region:

    .venv/bin/pytest -p no:cacheprovider tests/hosts/test_data_exchange.py \
        --hosts='ansible://data_exchange' --connection=ansible --force-ansible \
        --ansible-inventory=<state>/inventory/<stack>/inventory.yml -q

Expected values (ports, TLS policy, federation neighbours) come from the inventory the role
ran with, so the checks hold for a province, a city and a county alike; a check that does
not apply to the region's tier (the shovel of a province) is skipped, saying why. Probes run
on the host itself with Debian's python3, against loopback or the host's own address.
"""

import json
import re

import pytest

CA = "/etc/regionstack/tls/ca.pem"
CLIENT_CERT = "/etc/regionstack/tls/client.pem"
CLIENT_KEY = "/etc/regionstack/tls/client.key"
VHOST = "/regionstack"
NODE = "rabbit@localhost"
PG_SERVICE = "postgresql@15-main"
BACKUP_DIR = "/var/backups/regionstack"
LOOPBACK = ("127.", "::1", "[::1]")

# Runs on the host: a TLS handshake (optionally capped at a version, optionally with the
# host's client certificate) and, if asked, one HTTP request over it; result as JSON.
TLS_PROBE = r"""
import json, socket, ssl, sys
address, port, server_name, max_version, client_cert, path = sys.argv[1:7]
context = ssl.create_default_context(cafile=%(ca)r)
if max_version:
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = getattr(ssl.TLSVersion, max_version)
if client_cert == "yes":
    context.load_cert_chain(%(cert)r, %(key)r)
result = {}
try:
    with socket.create_connection((address, int(port)), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            result["version"] = tls.version()
            if path:
                tls.sendall(("GET %%s HTTP/1.1\r\nHost: %%s\r\nConnection: close\r\n\r\n"
                             %% (path, server_name)).encode())
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                result["status"] = int(head.split()[1])
                result["body"] = body.decode("utf-8", "replace")
except (OSError, ssl.SSLError) as error:
    result["error"] = repr(error)
print(json.dumps(result))
""" % {"ca": CA, "cert": CLIENT_CERT, "key": CLIENT_KEY}  # noqa: UP031 - the script has braces of its own

HTTP_GET = r"""
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())
"""


@pytest.fixture(scope="module")
def inventory(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def config(inventory):
    return inventory["regionstack_config"]


@pytest.fixture(scope="module")
def listens(config):
    return config["standard"]["components"]["data_exchange"]["listens"]


def journal(host, unit):
    return host.run("journalctl -u %s -n 30 --no-pager", unit).stdout


def tls_probe(host, address, port, server_name, max_version="", client_cert=False, path=""):
    result = host.run(
        "python3 -c %s %s %s %s %s %s %s",
        TLS_PROBE,
        address,
        str(port),
        server_name,
        max_version,
        "yes" if client_cert else "no",
        path,
    )
    assert result.rc == 0, f"TLS probe failed to run on {host.backend.host}: {result.stderr}"
    return json.loads(result.stdout)


def rabbitmqctl_json(host, *args):
    result = host.run("rabbitmqctl --quiet --node %s %s --formatter json", NODE, " ".join(args))
    assert result.rc == 0, f"rabbitmqctl {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)


def listeners(host):
    """(address, port) of every listening TCP socket."""
    sockets = []
    for line in host.run("ss -Hlnt").stdout.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        sockets.append((address, int(port)))
    return sockets


def psql(host, sql, database="postgres"):
    return host.run("runuser -u postgres -- psql -XAtq -d %s -c %s", database, sql)


# --- packages and services ---------------------------------------------------------------


@pytest.mark.parametrize(
    "package",
    [
        "rabbitmq-server",
        "postgresql",
        "nginx",
        "gunicorn",
        "python3-flask",
        "python3-psycopg",
        "prometheus-postgres-exporter",
    ],
)
def test_package_is_installed_from_debian(host, package):
    assert host.package(package).is_installed


@pytest.mark.parametrize(
    "unit",
    [
        "epmd.socket",
        "rabbitmq-server",
        PG_SERVICE,
        "regionstack-catalog",
        "nginx",
        "prometheus-postgres-exporter",
        "regionstack-backup.timer",
    ],
)
def test_unit_is_enabled_and_running(host, unit):
    service = host.service(unit)
    assert service.is_enabled, f"{unit} is not enabled"
    assert service.is_running, f"{unit} is not running:\n{journal(host, unit)}"


# --- listeners (mlps-8.1.3.2, 8.1.4.4) -----------------------------------------------------


def test_only_the_standards_ports_listen_beyond_loopback(host, config, listens):
    allowed = set(listens) | set(config["standard"]["common"]["listens"])
    public = {port for address, port in listeners(host) if not address.startswith(LOOPBACK)}
    assert public <= allowed, f"unexpected public listeners: {sorted(public - allowed)}"


@pytest.mark.parametrize("index", range(4))
def test_each_data_exchange_port_listens(host, listens, index):
    if index >= len(listens):
        pytest.skip(f"the standard lists {len(listens)} data_exchange ports")
    port = listens[index]
    public = [a for a, p in listeners(host) if p == port and not a.startswith(LOOPBACK)]
    assert public, f"nothing listens on port {port} beyond loopback"


@pytest.mark.parametrize(
    "port,what",
    [
        (4369, "epmd"),
        (25672, "Erlang distribution"),
        (5432, "PostgreSQL"),
        (8002, "catalog gunicorn"),
        (8080, "nginx stub_status"),
    ],
)
def test_internal_port_listens_on_loopback_only(host, port, what):
    addresses = [a for a, p in listeners(host) if p == port]
    assert addresses, f"{what} does not listen on {port}"
    assert all(a.startswith(LOOPBACK) for a in addresses), f"{what} listens on {addresses}"


@pytest.mark.parametrize("port", [80, 5672, 15672])
def test_plain_and_management_ports_are_closed(host, port):
    assert not [a for a, p in listeners(host) if p == port], f"port {port} listens"


# --- RabbitMQ (mlps-8.1.2.2, 8.1.4.2) -------------------------------------------------------


@pytest.mark.parametrize("version,accepted", [("TLSv1_1", False), ("TLSv1_2", True), ("", True)])
def test_amqps_speaks_only_the_standards_tls_versions(
    host, inventory, listens, config, version, accepted
):
    port = 5671
    assert port in listens
    result = tls_probe(host, inventory["ansible_host"], port, host.backend.host, version)
    if accepted:
        assert "version" in result, f"handshake refused: {result}"
        minimum = float(config["standard"]["tls"]["min_version"])
        assert float(result["version"].removeprefix("TLSv")) >= minimum
    else:
        assert "error" in result, f"TLS below the standard's minimum accepted: {result}"


def test_guest_user_is_deleted(host):
    users = {u["user"] for u in rabbitmqctl_json(host, "list_users")}
    assert "guest" not in users


@pytest.mark.parametrize(
    "user,configure,write,read",
    [
        (
            "hotline",
            r"^(regionstack\.work_orders|hotline\.status)$",
            r"^regionstack\.work_orders$",
            r"^hotline\.status$",
        ),
        ("portal", "^$", r"^regionstack\.work_orders$", "^$"),
    ],
)
def test_application_user_has_least_privilege(host, user, configure, write, read):
    permissions = rabbitmqctl_json(host, "list_permissions", "--vhost", VHOST)
    found = [p for p in permissions if p["user"] == user]
    assert found == [{"user": user, "configure": configure, "write": write, "read": read}]


@pytest.mark.parametrize("user", ["hotline", "portal"])
def test_application_user_publishes_only_its_regions_routing_keys(host, config, user):
    topic = rabbitmqctl_json(host, "list_user_topic_permissions", user)
    assert topic == [
        {
            "vhost": VHOST,
            "exchange": "regionstack.work_orders",
            "write": f"^{config['region']['code']}\\.",
            "read": "^$",
        }
    ]


def test_no_user_has_a_role_tag(host):
    tagged = {u["user"]: u["tags"] for u in rabbitmqctl_json(host, "list_users") if u["tags"]}
    assert not tagged, f"users with tags (administrator, management…): {tagged}"


@pytest.mark.parametrize(
    "name,kind", [("regionstack.work_orders", "topic"), ("regionstack.directives", "topic")]
)
def test_exchange_is_durable(host, name, kind):
    exchanges = rabbitmqctl_json(
        host, "list_exchanges", "--vhost", VHOST, "name", "type", "durable"
    )
    assert {"name": name, "type": kind, "durable": True} in exchanges


@pytest.mark.parametrize(
    "name,kind",
    [
        ("hotline.status", "classic"),
        ("regionstack.work_orders.archive", "stream"),
        ("regionstack.directives.archive", "stream"),
    ],
)
def test_queue_is_durable(host, name, kind):
    queues = rabbitmqctl_json(host, "list_queues", "--vhost", VHOST, "name", "type", "durable")
    assert {"name": name, "type": kind, "durable": True} in queues


@pytest.mark.parametrize(
    "source,destination",
    [
        ("regionstack.work_orders", "regionstack.work_orders.archive"),
        ("regionstack.directives", "regionstack.directives.archive"),
    ],
)
def test_archive_is_bound_to_every_message(host, source, destination):
    bindings = rabbitmqctl_json(
        host, "list_bindings", "--vhost", VHOST, "source_name", "destination_name", "routing_key"
    )
    assert {"source_name": source, "destination_name": destination, "routing_key": "#"} in bindings


def test_archives_keep_messages_for_the_log_retention_period(host, config):
    policies = {p["name"]: p for p in rabbitmqctl_json(host, "list_policies", "--vhost", VHOST)}
    definition = json.loads(policies["regionstack-archive"]["definition"])
    assert definition == {"max-age": f"{config['standard']['log_retention_days']}D"}


def test_cluster_name_is_the_host_name(host):
    result = host.run("rabbitmqctl --quiet --node %s eval 'rabbit_nodes:cluster_name().'", NODE)
    assert result.stdout.strip() == f'<<"{host.backend.host}">>'


def test_erlang_cookie_is_private_to_rabbitmq(host):
    cookie = host.file("/var/lib/rabbitmq/.erlang.cookie")
    assert (cookie.user, cookie.group, cookie.mode) == ("rabbitmq", "rabbitmq", 0o400)


def test_rabbitmq_joins_ssl_cert(host):
    assert "ssl-cert" in host.user("rabbitmq").groups


def test_rabbitmq_metrics_are_served(host, listens):
    port = 15692
    assert port in listens
    result = host.run("python3 -c %s %s", HTTP_GET, f"http://127.0.0.1:{port}/metrics")
    assert result.rc == 0, result.stderr
    assert "rabbitmq_build_info" in result.stdout


# --- federation (mlps-8.1.2.2, 8.1.3.2) -----------------------------------------------------


def test_uplink_shovel_runs_to_the_parent(host, config):
    if not config["federation"]["parent_exchange"]:
        pytest.skip(f"{config['region']['stack']} has no parent region")
    shovels = {s["name"]: s for s in rabbitmqctl_json(host, "shovel_status")}
    uplink = shovels.get("regionstack-uplink")
    assert uplink, f"no uplink shovel: {shovels}"
    assert uplink["state"] == "running", f"uplink shovel: {uplink}"
    assert uplink["destination"].startswith(f"amqps://{config['federation']['parent_exchange']}:")


def test_uplink_shovel_confirms_and_authenticates_by_certificate(host, config):
    if not config["federation"]["parent_exchange"]:
        pytest.skip(f"{config['region']['stack']} has no parent region")
    parameters = rabbitmqctl_json(host, "list_parameters", "--vhost", VHOST)
    value = next(p["value"] for p in parameters if p["name"] == "regionstack-uplink")
    value = json.loads(value) if isinstance(value, str) else value
    assert value["ack-mode"] == "on-confirm"
    assert value["src-queue"] == "regionstack.uplink"
    assert value["dest-publish-properties"] == {"delivery_mode": 2}
    assert "auth_mechanism=external" in value["dest-uri"]
    assert "verify=verify_peer" in value["dest-uri"]


def test_directives_federation_link_runs(host, config):
    if not config["federation"]["parent_exchange"]:
        pytest.skip(f"{config['region']['stack']} has no parent region")
    links = rabbitmqctl_json(host, "federation_status")
    running = [link for link in links if link["exchange"] == "regionstack.directives"]
    assert running and all(link["status"] == "running" for link in running), f"links: {links}"


def test_children_log_in_by_certificate_only(host, config):
    children = config["federation"]["child_exchanges"]
    if not children:
        pytest.skip(f"{config['region']['stack']} has no child regions")
    users = {u["user"] for u in rabbitmqctl_json(host, "list_users")}
    permissions = rabbitmqctl_json(host, "list_permissions", "--vhost", VHOST)
    child_users = users - {"hotline", "portal"}
    assert len(child_users) == len(children), f"users {users} for children {children}"
    for user in child_users:
        mine = next(p for p in permissions if p["user"] == user)
        assert re.fullmatch(mine["write"], "regionstack.work_orders")
        assert re.fullmatch(mine["read"], "regionstack.directives")
        assert not re.fullmatch(mine["write"], "regionstack.directives")
        assert not re.fullmatch(mine["read"], "regionstack.work_orders.archive")
        assert not re.fullmatch(mine["configure"], "regionstack.work_orders")


def test_connected_children_use_tls_and_external(host, config):
    connections = rabbitmqctl_json(host, "list_connections", "user", "ssl", "auth_mechanism")
    peers = [c for c in connections if c["user"] not in ("hotline", "portal")]
    if not peers:
        pytest.skip("no child exchange is connected")
    assert all(c["ssl"] and c["auth_mechanism"] == "EXTERNAL" for c in peers), peers


# --- PostgreSQL (mlps-8.1.4.1, 8.1.4.2, 8.1.4.3) --------------------------------------------


@pytest.mark.parametrize(
    "setting,expected",
    [
        ("listen_addresses", "localhost"),
        ("ssl", "on"),
        ("password_encryption", "scram-sha-256"),
        ("log_connections", "on"),
        ("log_disconnections", "on"),
    ],
)
def test_postgresql_setting(host, setting, expected):
    assert psql(host, f"SHOW {setting}").stdout.strip() == expected


def test_postgresql_minimum_tls_is_the_standards(host, config):
    shown = psql(host, "SHOW ssl_min_protocol_version").stdout.strip()
    assert shown == f"TLSv{config['standard']['tls']['min_version']}"


def test_postgresql_refuses_connections_without_tls(host):
    result = host.run(
        "psql -XAtq 'host=127.0.0.1 sslmode=disable user=catalog dbname=catalog' -c 'SELECT 1'"
    )
    assert result.rc != 0
    assert "no encryption" in result.stderr, result.stderr


def test_catalog_role_connects_over_tls(host):
    result = host.run(
        "psql -XAtq \"$(sed -n 's/^CATALOG_DATABASE_URL=//p' /etc/regionstack/catalog.env)\" "
        "-c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'"
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "t"


def test_catalog_database_is_owned_by_its_role(host):
    owner = psql(
        host, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'catalog'"
    ).stdout.strip()
    assert owner == "catalog"


@pytest.mark.parametrize("role", ["catalog", "prometheus_exporter"])
def test_application_role_is_unprivileged_and_scram(host, role):
    row = psql(
        host,
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, "
        f"left(rolpassword, 14) FROM pg_authid WHERE rolname = '{role}'",
    ).stdout.strip()
    assert row == "f|f|f|f|SCRAM-SHA-256$"


def test_exporter_role_is_in_pg_monitor_only(host):
    groups = psql(
        host,
        "SELECT string_agg(r.rolname, ',') FROM pg_auth_members m "
        "JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
        "WHERE u.rolname = 'prometheus_exporter'",
    ).stdout.strip()
    assert groups == "pg_monitor"


# --- backup (mlps-8.1.4.9) ------------------------------------------------------------------


def test_backup_timer_is_daily(host):
    timer = host.run("systemctl show regionstack-backup.timer -p TimersCalendar").stdout
    assert "OnCalendar=daily" in timer or "*-*-* 00:00:00" in timer, timer


def test_backup_produces_a_private_restorable_dump(host):
    started = host.run("systemctl start regionstack-backup.service")
    assert started.rc == 0, journal(host, "regionstack-backup")
    newest = host.run("ls -1t %s/catalog-*.dump", BACKUP_DIR).stdout.split()
    assert newest, f"no catalog dump in {BACKUP_DIR}"
    dump = host.file(newest[0])
    assert (dump.user, dump.mode) == ("postgres", 0o600)
    listing = host.run("runuser -u postgres -- pg_restore --list %s", newest[0])
    assert listing.rc == 0 and "TABLE public datasets" in listing.stdout, listing.stderr


def test_backup_directory_is_private(host):
    directory = host.file(BACKUP_DIR)
    assert (directory.user, directory.mode) == ("postgres", 0o700)


# --- catalog behind mutual TLS (mlps-8.1.2.2) ------------------------------------------------


def test_catalog_answers_a_client_certificate(host, inventory):
    result = tls_probe(
        host, inventory["ansible_host"], 8443, host.backend.host, client_cert=True, path="/datasets"
    )
    assert result.get("status") == 200, f"{result}\n{journal(host, 'regionstack-catalog')}"


def test_catalog_refuses_a_client_without_certificate(host, inventory):
    result = tls_probe(host, inventory["ansible_host"], 8443, host.backend.host, path="/datasets")
    assert result.get("status") == 400 or "error" in result, result
    assert result.get("status") != 200


def test_catalog_refuses_tls_below_the_minimum(host, inventory):
    result = tls_probe(
        host, inventory["ansible_host"], 8443, host.backend.host, "TLSv1_1", client_cert=True
    )
    assert "error" in result, f"TLS 1.1 accepted: {result}"


@pytest.mark.parametrize(
    "header", ["X-SSL-Client-Verify $ssl_client_verify", "X-SSL-Client-S-DN $ssl_client_s_dn"]
)
def test_nginx_overwrites_the_client_certificate_headers(host, header):
    site = host.file("/etc/nginx/conf.d/regionstack-catalog.conf").content_string
    assert f"proxy_set_header {header};" in site


def test_nginx_default_site_is_gone(host):
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_stub_status_answers_on_loopback(host):
    result = host.run("python3 -c %s %s", HTTP_GET, "http://127.0.0.1:8080/stub_status")
    assert "Active connections" in result.stdout, result.stderr


@pytest.mark.parametrize(
    "prop,value",
    [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("User", "catalog"),
    ],
)
def test_catalog_unit_is_hardened(host, prop, value):
    shown = host.run("systemctl show regionstack-catalog -p %s --value", prop).stdout.strip()
    assert shown == value


def test_catalog_code_has_no_caches(host):
    assert host.run("find /opt/regionstack/catalog -name __pycache__").stdout == ""


def test_catalog_environment_is_private(host):
    env = host.file("/etc/regionstack/catalog.env")
    assert (env.user, env.group, env.mode) == ("root", "catalog", 0o640)
    # Counted, not printed: the line carries the catalog's password.
    assert (
        host.run("grep -c 'sslmode=verify-ca' /etc/regionstack/catalog.env").stdout.strip() == "1"
    )


# --- exporters (mlps-8.1.5.4) ---------------------------------------------------------------


def test_postgres_exporter_reaches_postgresql(host, listens):
    port = 9187
    assert port in listens
    result = host.run("python3 -c %s %s", HTTP_GET, f"http://127.0.0.1:{port}/metrics")
    assert result.rc == 0, result.stderr
    assert re.search(r"^pg_up 1$", result.stdout, re.M), journal(
        host, "prometheus-postgres-exporter"
    )
