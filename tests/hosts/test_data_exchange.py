"""Host checks of the data_exchange role (roles/data_exchange), run against the
`data_exchange` group of one region:

    regionstack verify STACK --only data_exchange

Expected values (ports, TLS policy, federation neighbours, the region CA) come from the
inventory the role ran with, so the checks hold for a province, a city and a county alike;
a check that does not apply to the region's tier (the shovel of a province) is skipped,
saying why. Probes run on the host itself with Debian's python3, against loopback or the
host's own address.
"""

import json
import re

import pytest

from tests.hosts.helpers import (
    CLIENT_CERT,
    CLIENT_KEY,
    LOOPBACK,
    TLS_VERSIONS,
    assert_chains_to_region_ca,
    assert_running_and_enabled,
    assert_tls_version_policy,
    journal,
    listeners,
    own_endpoint_handshake,
    run_probe,
    verify_context,
)

GROUP = "data_exchange"
VHOST = "/regionstack"
NODE = "rabbit@localhost"
PG_SERVICE = "postgresql@15-main"
BACKUP_DIR = "/var/backups/regionstack"
AMQPS, CATALOG = 5671, 8443
# The exchange's TLS endpoints: AMQPS, and the catalog behind nginx with mutual TLS.
TLS_ENDPOINTS = [(AMQPS, False), (CATALOG, True)]

HTTP_GET = r"""
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())
"""

# Runs on the host: the start of an AMQP 0-9-1 connection, over TLS (with the host's
# client certificate, which maps to no user) or plain TCP; offers the protocol header,
# reads the server's Connection.Start (its SASL mechanisms), answers with `mechanism`
# and, for PLAIN, `user`/`password`, and reports whether the server went on (Tune) or
# refused (Close, or closing the connection).
AMQP_PROBE = r"""
import json, socket, ssl, struct, sys
address, port, use_tls, ca_pem, mechanism, user, password = sys.argv[1:8]
def exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("closed by the server")
        data += chunk
    return data
def frame(sock):
    kind, channel, size = struct.unpack("!BHI", exact(sock, 7))
    payload = exact(sock, size)
    exact(sock, 1)
    return kind, payload
def short(text):
    return struct.pack("!B", len(text)) + text
result = {"stage": "connect"}
try:
    sock = socket.create_connection((address, int(port)), timeout=10)
    if use_tls == "yes":
        context = ssl.create_default_context(cadata=ca_pem)
        context.check_hostname = False
        context.load_cert_chain(%(cert)r, %(key)r)
        sock = context.wrap_socket(sock)
    result["stage"] = "protocol header"
    sock.sendall(b"AMQP\x00\x00\x09\x01")
    kind, payload = frame(sock)
    if payload[:4] != struct.pack("!HH", 10, 10):
        raise ValueError("no Connection.Start: %%r" %% payload[:16])
    position = 6
    position += 4 + struct.unpack("!I", payload[position:position + 4])[0]
    size = struct.unpack("!I", payload[position:position + 4])[0]
    result["mechanisms"] = payload[position + 4:position + 4 + size].decode().split()
    result["stage"] = "login"
    response = ("\0%%s\0%%s" %% (user, password)).encode() if mechanism == "PLAIN" else b""
    arguments = (struct.pack("!HHI", 10, 11, 0) + short(mechanism.encode())
                 + struct.pack("!I", len(response)) + response + short(b"en_US"))
    sock.sendall(struct.pack("!BHI", 1, 0, len(arguments)) + arguments + b"\xce")
    kind, payload = frame(sock)
    method = struct.unpack("!HH", payload[:4])
    if method == (10, 30):
        result["stage"] = "accepted"
    elif method == (10, 50):
        result["stage"] = "refused"
        result["code"] = struct.unpack("!H", payload[4:6])[0]
        result["text"] = payload[7:7 + payload[6]].decode("utf-8", "replace")
    else:
        result["stage"] = "unexpected method %%r" %% (method,)
except (OSError, EOFError, ValueError, struct.error) as error:
    result["error"] = repr(error)
print(json.dumps(result))
""" % {"cert": CLIENT_CERT, "key": CLIENT_KEY}  # noqa: UP031 - the script has braces of its own


def pytest_generate_tests(metafunc):
    if "listen_port" in metafunc.fixturenames:
        config = verify_context(metafunc.config).region.config
        metafunc.parametrize("listen_port", config["standard"]["components"][GROUP]["listens"])


@pytest.fixture(scope="module")
def listens(standard):
    return standard["components"]["data_exchange"]["listens"]


def amqp(host, inventory, port, *, tls=True, mechanism="PLAIN", user="", password=""):
    return run_probe(
        host,
        AMQP_PROBE,
        inventory["ansible_host"],
        str(port),
        "yes" if tls else "no",
        inventory["regionstack_tls_ca_pem"],
        mechanism,
        user,
        password,
    )


def rabbitmqctl_json(host, *args):
    command = "rabbitmqctl --quiet --node %s" + " %s" * len(args) + " --formatter json"
    result = host.run(command, NODE, *args)
    assert result.rc == 0, f"rabbitmqctl {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def rabbitmqctl(host):
    """rabbitmqctl's JSON answers, each asked once per host (the CLI boots an Erlang VM)."""
    answers = {}

    def query(*args):
        if args not in answers:
            answers[args] = rabbitmqctl_json(host, *args)
        return answers[args]

    return query


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
    assert_running_and_enabled(host, unit)


# --- listeners (mlps-8.1.3.2, 8.1.4.4) -----------------------------------------------------


def test_only_the_standards_ports_listen_beyond_loopback(host, config, listens):
    allowed = set(listens) | set(config["standard"]["common"]["listens"])
    public = {port for address, port in listeners(host) if not address.startswith(LOOPBACK)}
    assert public <= allowed, f"unexpected public listeners: {sorted(public - allowed)}"


def test_each_data_exchange_port_listens(host, listen_port):
    public = [a for a, p in listeners(host) if p == listen_port and not a.startswith(LOOPBACK)]
    assert public, f"nothing listens on port {listen_port} beyond loopback"


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


@pytest.mark.parametrize(("port", "client_cert"), TLS_ENDPOINTS)
@pytest.mark.parametrize("version", TLS_VERSIONS)
def test_tls_version_policy(host, inventory, standard, listens, port, client_cert, version):
    """TLS below the standard's minimum is refused by the server, the rest accepted."""
    assert port in listens
    result = own_endpoint_handshake(host, inventory, port, version=version, client_cert=client_cert)
    assert_tls_version_policy(result, version, standard["tls"]["min_version"])


@pytest.mark.parametrize(("port", "client_cert"), TLS_ENDPOINTS)
def test_certificate_chains_to_the_region_ca(host, inventory, port, client_cert):
    ca_pem = inventory["regionstack_tls_ca_pem"]
    result = own_endpoint_handshake(host, inventory, port, client_cert=client_cert)
    assert_chains_to_region_ca(result, ca_pem, host.backend.hostname)


def test_rabbitmq_refuses_plain_amqp_on_its_port(host, inventory):
    """No plain listener: the AMQP port of the standard (5672) refuses the connection."""
    result = amqp(host, inventory, 5672, tls=False)
    assert result["stage"] == "connect", f"plain AMQP got an answer: {result}"


def test_rabbitmq_refuses_plain_amqp_on_the_tls_port(host, inventory):
    result = amqp(host, inventory, AMQPS, tls=False)
    assert "mechanisms" not in result, f"AMQP spoken without TLS: {result}"
    assert "error" in result, result


def test_rabbitmq_offers_no_anonymous_login(host, inventory):
    result = amqp(host, inventory, AMQPS, mechanism="ANONYMOUS")
    assert sorted(result.get("mechanisms", [])) == ["EXTERNAL", "PLAIN"], result
    assert result["stage"] != "accepted", f"an anonymous login was accepted: {result}"


@pytest.mark.parametrize(
    ("user", "password", "why"),
    [
        ("guest", "guest", "the default account"),
        ("regionstack-nobody", "not-a-password", "an unknown user"),
        ("hotline", "not-the-password", "a wrong password"),
    ],
)
def test_rabbitmq_refuses_a_login(host, inventory, user, password, why):
    result = amqp(host, inventory, AMQPS, user=user, password=password)
    assert "mechanisms" in result, f"the probe did not reach the login: {result}"
    assert result["stage"] == "refused" or "closed by the server" in result.get("error", ""), (
        f"{why} was not refused: {result}"
    )


def test_guest_user_is_deleted(rabbitmqctl):
    users = {u["user"] for u in rabbitmqctl("list_users")}
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
def test_application_user_has_least_privilege(rabbitmqctl, user, configure, write, read):
    permissions = rabbitmqctl("list_permissions", "--vhost", VHOST)
    found = [p for p in permissions if p["user"] == user]
    assert found == [{"user": user, "configure": configure, "write": write, "read": read}]


@pytest.mark.parametrize("user", ["hotline", "portal"])
def test_application_user_publishes_only_its_regions_routing_keys(rabbitmqctl, config, user):
    topic = rabbitmqctl("list_user_topic_permissions", user)
    assert topic == [
        {
            "vhost": VHOST,
            "exchange": "regionstack.work_orders",
            "write": f"^{config['region']['code']}\\.",
            "read": "^$",
        }
    ]


def test_no_user_has_a_role_tag(rabbitmqctl):
    tagged = {u["user"]: u["tags"] for u in rabbitmqctl("list_users") if u["tags"]}
    assert not tagged, f"users with tags (administrator, management…): {tagged}"


@pytest.mark.parametrize(
    "name,kind", [("regionstack.work_orders", "topic"), ("regionstack.directives", "topic")]
)
def test_exchange_is_durable(rabbitmqctl, name, kind):
    exchanges = rabbitmqctl("list_exchanges", "--vhost", VHOST, "name", "type", "durable")
    assert {"name": name, "type": kind, "durable": True} in exchanges


@pytest.mark.parametrize(
    "name,kind",
    [
        ("hotline.status", "classic"),
        ("regionstack.work_orders.archive", "stream"),
        ("regionstack.directives.archive", "stream"),
    ],
)
def test_queue_is_durable(rabbitmqctl, name, kind):
    queues = rabbitmqctl("list_queues", "--vhost", VHOST, "name", "type", "durable")
    assert {"name": name, "type": kind, "durable": True} in queues


@pytest.mark.parametrize(
    "source,destination",
    [
        ("regionstack.work_orders", "regionstack.work_orders.archive"),
        ("regionstack.directives", "regionstack.directives.archive"),
    ],
)
def test_archive_is_bound_to_every_message(rabbitmqctl, source, destination):
    bindings = rabbitmqctl(
        "list_bindings", "--vhost", VHOST, "source_name", "destination_name", "routing_key"
    )
    assert {"source_name": source, "destination_name": destination, "routing_key": "#"} in bindings


def test_archives_keep_messages_for_the_log_retention_period(rabbitmqctl, config):
    policies = {p["name"]: p for p in rabbitmqctl("list_policies", "--vhost", VHOST)}
    definition = json.loads(policies["regionstack-archive"]["definition"])
    assert definition == {"max-age": f"{config['standard']['log_retention_days']}D"}


def test_cluster_name_is_the_host_name(host):
    result = host.run("rabbitmqctl --quiet --node %s eval 'rabbit_nodes:cluster_name().'", NODE)
    assert result.stdout.strip() == f'<<"{host.backend.hostname}">>'


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


def test_uplink_shovel_runs_to_the_parent(rabbitmqctl, config):
    if not config["federation"]["parent_exchange"]:
        pytest.skip(f"{config['region']['stack']} has no parent region")
    shovels = {s["name"]: s for s in rabbitmqctl("shovel_status")}
    uplink = shovels.get("regionstack-uplink")
    assert uplink, f"no uplink shovel: {shovels}"
    assert uplink["state"] == "running", f"uplink shovel: {uplink}"
    assert uplink["destination"].startswith(f"amqps://{config['federation']['parent_exchange']}:")


def test_uplink_shovel_confirms_and_authenticates_by_certificate(rabbitmqctl, config):
    if not config["federation"]["parent_exchange"]:
        pytest.skip(f"{config['region']['stack']} has no parent region")
    parameters = rabbitmqctl("list_parameters", "--vhost", VHOST)
    value = next(p["value"] for p in parameters if p["name"] == "regionstack-uplink")
    value = json.loads(value) if isinstance(value, str) else value
    assert value["ack-mode"] == "on-confirm"
    assert value["src-queue"] == "regionstack.uplink"
    assert value["dest-publish-properties"] == {"delivery_mode": 2}
    assert "auth_mechanism=external" in value["dest-uri"]
    assert "verify=verify_peer" in value["dest-uri"]


def test_directives_federation_link_runs(rabbitmqctl, config):
    if not config["federation"]["parent_exchange"]:
        pytest.skip(f"{config['region']['stack']} has no parent region")
    links = rabbitmqctl("federation_status")
    running = [link for link in links if link["exchange"] == "regionstack.directives"]
    assert running and all(link["status"] == "running" for link in running), f"links: {links}"


def test_children_log_in_by_certificate_only(rabbitmqctl, config):
    children = config["federation"]["child_exchanges"]
    if not children:
        pytest.skip(f"{config['region']['stack']} has no child regions")
    users = {u["user"] for u in rabbitmqctl("list_users")}
    permissions = rabbitmqctl("list_permissions", "--vhost", VHOST)
    child_users = users - {"hotline", "portal"}
    assert len(child_users) == len(children), f"users {users} for children {children}"
    # (permission, resource, whether it must match): a child writes work orders up and
    # reads directives down, nothing else.
    expected = [
        ("write", "regionstack.work_orders", True),
        ("read", "regionstack.directives", True),
        ("write", "regionstack.directives", False),
        ("read", "regionstack.work_orders.archive", False),
        ("configure", "regionstack.work_orders", False),
    ]
    wrong = [
        (user, kind, resource)
        for user in sorted(child_users)
        for mine in [next((p for p in permissions if p["user"] == user), None)]
        for kind, resource, allowed in expected
        if mine is None or bool(re.fullmatch(mine[kind], resource)) != allowed
    ]
    assert wrong == [], f"child permissions off (user, permission, resource): {wrong}"


def test_connected_children_use_tls_and_external(rabbitmqctl, config):
    connections = rabbitmqctl("list_connections", "user", "ssl", "auth_mechanism")
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


def test_postgresql_refuses_an_unknown_user(host):
    """Over TLS, with a password: a role the database does not know is refused."""
    result = host.run(
        "env PGPASSWORD=not-a-password PGCONNECT_TIMEOUT=10 psql -XAtq %s -c 'SELECT 1'",
        "host=127.0.0.1 sslmode=require user=regionstack_nobody dbname=catalog",
    )
    assert result.rc != 0, "an unknown user got in"
    refusals = ("pg_hba.conf rejects", "no pg_hba.conf entry", "authentication failed")
    assert any(refusal in result.stderr for refusal in refusals), result.stderr


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
    result = own_endpoint_handshake(host, inventory, CATALOG, client_cert=True, path="/datasets")
    assert result.get("status") == 200, f"{result}\n{journal(host, 'regionstack-catalog')}"


def test_catalog_refuses_a_client_without_certificate(host, inventory):
    result = own_endpoint_handshake(host, inventory, CATALOG, path="/datasets")
    assert result.get("status") == 400 or "error" in result, result
    assert result.get("status") != 200


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


def test_amqps_boot_gate_wraps_the_broker_and_is_open_now(host):
    """RabbitMQ 3.10 listens before its archive streams run; the drop-in keeps AMQPS shut
    until they do (a shovel arriving earlier would lose the archive copies)."""
    unit = host.run("systemctl cat rabbitmq-server.service").stdout
    for action in ("close", "open-when-ready"):
        assert f"regionstack-rabbitmq-ready-gate {action}" in unit, unit
    tables = host.run("nft list tables").stdout
    assert "regionstack_amqps_gate" not in tables, "AMQPS is still gated after the start"
