"""Host checks of the security_monitoring role (roles/security_monitoring), run against the
`security_monitoring` group.

    .venv/bin/pytest -p no:cacheprovider tests/hosts/test_security_monitoring.py \
        --hosts='ansible://security_monitoring' --connection=ansible --force-ansible \
        --ansible-inventory=<state>/inventory/<stack>/inventory.yml -q

Everything the checks compare against (ports, retention, hosts, TLS material) comes from the
inventory the role ran with, so they hold for any region. Prometheus and Alertmanager are
queried on the monitor itself; log delivery is checked from another host of the region.
"""

import json
import shlex
import time
import uuid

import pytest
import testinfra

TLS = "/etc/regionstack/tls"
REMOTE = "/var/log/remote"
LOOPBACK = ("127.", "::1")
RULES = "/etc/prometheus/rules/regionstack.rules.yml"
TEXTFILE = "/var/lib/prometheus/node-exporter/regionstack_security_log.prom"
COUNTER = "/usr/local/libexec/regionstack/security-log-metrics"
# The monitor's ports; test_monitor_ports_are_the_standard_ones ties them to the standard.
PROMETHEUS, ALERTMANAGER, RECEIVER = 9090, 9093, 6514
ALERTS = [
    "HostDown",
    "ExporterDown",
    "ServiceDown",
    "CertificateExpiringSoon",
    "DiskFillingUp",
    "QueueBacklog",
    "LoginFailureBurst",
    "FileIntegrityChange",
    "LogSourceSilent",
    "SecurityLogScanStale",
]
# The probes the standard's service endpoints need: (component, port, blackbox module).
PROBES = [
    ("portal", 443, "https_2xx"),
    ("portal", 80, "http_301_https"),
    ("hotline", 8443, "tcp_tls"),
    ("data_exchange", 5671, "tcp_mtls"),
    ("data_exchange", 8443, "tcp_mtls"),
    ("security_monitoring", 6514, "tcp_mtls"),
]
# Scrape jobs and the component whose hosts each one covers (`all`: every host).
JOBS = [
    ("node", "all"),
    ("nginx", "portal"),
    ("nginx", "hotline"),
    ("postgres", "data_exchange"),
    ("rabbitmq", "data_exchange"),
    ("rabbitmq_queues", "data_exchange"),
    ("prometheus", "security_monitoring"),
    ("alertmanager", "security_monitoring"),
]

# Runs on the monitor: GET a local URL, print the JSON (or the status and text) it returns.
GET = r"""
import json, sys, urllib.error, urllib.request
try:
    response = urllib.request.urlopen(sys.argv[1], timeout=20)
except urllib.error.HTTPError as error:
    response = error
body = response.read().decode("utf-8", "replace")
print(json.dumps({"status": response.status, "body": body}))
"""

# Runs on a sender: one RFC 5424 message, octet-counted, over TLS with the given client
# certificate ("-" for none); prints whether the handshake completed.
SEND = r"""
import socket, ssl, sys, time
address, port, cert, key, marker = sys.argv[1:6]
context = ssl.create_default_context(cafile="/etc/regionstack/tls/ca.pem")
context.check_hostname = False
if cert != "-":
    context.load_cert_chain(cert, key)
stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
message = f"<13>1 {stamp} {socket.gethostname()} regionstack-test - - - {marker}".encode()
with socket.create_connection((address, int(port)), timeout=10) as raw:
    with context.wrap_socket(raw) as tls:
        tls.sendall(str(len(message)).encode() + b" " + message)
        time.sleep(1)
        tls.unwrap()
print("sent")
"""


@pytest.fixture(scope="module")
def inventory(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def standard(inventory):
    return inventory["regionstack_config"]["standard"]


@pytest.fixture(scope="module")
def groups(inventory):
    return inventory["groups"]


@pytest.fixture(scope="module")
def sender(pytestconfig, groups):
    """Another host of the region, to send logs from."""
    names = sorted(set(groups["all"]) - set(groups["security_monitoring"]))
    if not names:
        pytest.skip("the region has no host besides the monitors")
    inventory_file = pytestconfig.option.ansible_inventory
    return testinfra.get_host(
        f"ansible://{names[0]}?ansible_inventory={inventory_file}&force_ansible=true"
    )


def get(host, url):
    result = host.run(f"python3 -c {shlex.quote(GET)} {shlex.quote(url)}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def api(host, port, path):
    answer = get(host, f"http://127.0.0.1:{port}{path}")
    assert answer["status"] == 200, answer["body"][:500]
    return json.loads(answer["body"])


@pytest.fixture(scope="module")
def targets(host):
    return api(host, PROMETHEUS, "/api/v1/targets")["data"]["activeTargets"]


@pytest.fixture(scope="module")
def rules(host):
    groups_ = api(host, PROMETHEUS, "/api/v1/rules")["data"]["groups"]
    return {rule["name"]: rule for group in groups_ for rule in group["rules"]}


def listening(host):
    """(address, port) of every listening TCP and UDP socket."""
    out = host.check_output("ss -Hlntu")
    sockets = []
    for line in out.splitlines():
        local = line.split()[4]
        address, _, port = local.rpartition(":")
        sockets.append((address.strip("[]"), int(port)))
    return sockets


@pytest.mark.parametrize(
    "package",
    [
        "prometheus",
        "prometheus-alertmanager",
        "prometheus-blackbox-exporter",
        "rsyslog",
        "rsyslog-gnutls",
        "logrotate",
    ],
)
def test_package_is_installed(host, package):
    assert host.package(package).is_installed


@pytest.mark.parametrize(
    "unit",
    [
        "prometheus.service",
        "prometheus-alertmanager.service",
        "prometheus-blackbox-exporter.service",
        "rsyslog.service",
        "regionstack-security-log-metrics.timer",
        "logrotate.timer",
    ],
)
def test_unit_is_enabled_and_running(host, unit):
    service = host.service(unit)
    assert service.is_enabled, host.run(f"systemctl status {unit} --no-pager").stdout
    assert service.is_running, host.run(f"journalctl -u {unit} -n 30 --no-pager").stdout


def test_monitor_ports_are_the_standard_ones(standard):
    assert sorted(standard["components"]["security_monitoring"]["listens"]) == sorted(
        [PROMETHEUS, ALERTMANAGER, RECEIVER]
    )


def test_only_the_standard_ports_listen_beyond_loopback(host, standard):
    exposed = {port for address, port in listening(host) if not address.startswith(LOOPBACK)}
    expected = set(standard["components"]["security_monitoring"]["listens"]) | set(
        standard["common"]["listens"]
    )
    # common's ports (sshd, node_exporter) belong to common's run; ours must all be there.
    assert set(standard["components"]["security_monitoring"]["listens"]) <= exposed
    assert exposed <= expected, f"unexpected listeners: {sorted(exposed - expected)}"


def test_blackbox_exporter_listens_on_loopback_only(host):
    addresses = {address for address, port in listening(host) if port == 9115}
    assert addresses == {"127.0.0.1"}


def test_alertmanager_has_no_cluster_listener(host):
    assert [s for s in listening(host) if s[1] == 9094] == []


def test_prometheus_keeps_samples_for_the_standard_retention(host, standard):
    flags = api(host, PROMETHEUS, "/api/v1/status/flags")["data"]
    retention = flags["storage.tsdb.retention.time"]
    assert retention.endswith("d"), retention
    assert int(retention[:-1]) >= standard["log_retention_days"]


@pytest.mark.parametrize(("job", "component"), JOBS)
def test_scrape_job_covers_every_host_of_its_component(targets, groups, job, component):
    hosts = {t["labels"]["host"] for t in targets if t["labels"]["job"] == job}
    assert set(groups[component]) <= hosts, f"{job} misses {sorted(set(groups[component]) - hosts)}"


def test_every_target_carries_component_region_and_host(targets, inventory):
    for target in targets:
        labels = target["labels"]
        assert labels.get("region_code") == inventory["regionstack_code"], labels
        assert labels.get("host") in inventory["groups"]["all"], labels
        assert (
            labels.get("component") in inventory["regionstack_config"]["standard"]["components"]
        ), labels


@pytest.mark.parametrize(("component", "port", "module"), PROBES)
def test_endpoint_is_probed(targets, groups, component, port, module):
    probed = {
        t["labels"]["host"]
        for t in targets
        if t["labels"]["job"] == "blackbox"
        and t["labels"].get("module") == module
        and t["labels"]["instance"].endswith(f":{port}")
    }
    assert probed == set(groups[component])


def test_node_exporter_of_every_host_is_up(targets):
    down = {
        t["labels"]["host"]: t["lastError"]
        for t in targets
        if t["labels"]["job"] == "node" and t["health"] != "up"
    }
    assert down == {}


@pytest.mark.parametrize("alert", ALERTS)
def test_alert_rule_is_loaded_with_its_mlps_control(rules, alert):
    assert alert in rules, sorted(rules)
    assert rules[alert]["health"] == "ok", rules[alert].get("lastError")
    assert rules[alert]["labels"]["mlps_control"].startswith("mlps-8.1.")


def test_alert_rules_pass_promtool(host):
    result = host.run(f"promtool check rules {RULES}")
    assert result.rc == 0, result.stdout + result.stderr


def test_alertmanager_is_ready(host):
    assert get(host, f"http://127.0.0.1:{ALERTMANAGER}/-/ready")["status"] == 200


def test_prometheus_sends_alerts_to_alertmanager(host):
    active = api(host, PROMETHEUS, "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert len(active) == 1


def test_logrotate_keeps_received_logs_for_the_retention(host, standard):
    words = host.file("/etc/logrotate.d/regionstack-remote").content_string.split()
    assert f"{REMOTE}/*/*.log" in words
    assert "daily" in words and "compress" in words
    assert int(words[words.index("rotate") + 1]) >= standard["log_retention_days"]
    assert words[words.index("create") + 1 : words.index("create") + 4] == ["0640", "root", "adm"]


def test_log_store_is_closed_to_others(host):
    store = host.file(REMOTE)
    assert (
        store.is_directory and store.user == "root" and store.group == "adm" and store.mode == 0o750
    )


def stored(host, path, line, wait):
    """Whether `line` (the sender's name, tag and message) reaches `path` within `wait` s.

    The sender's own logs of the test command (ansible's invocation line, forwarded by
    common) carry the marker too, but never after the host name and tag."""
    command = f"grep -rqF -- {shlex.quote(line)} {path}"
    for _ in range(wait):
        if host.run(command).rc == 0:
            return True
        time.sleep(1)
    return host.run(command).rc == 0


def send(sender, inventory, cert, marker):
    pair = "- -" if cert is None else f"{TLS}/{cert}.pem {TLS}/{cert}.key"
    return sender.run(
        f"python3 -c {shlex.quote(SEND)} {inventory['ansible_host']} {RECEIVER} {pair} {marker}"
    )


def test_receiver_stores_a_region_host_message_per_host(host, sender, inventory):
    marker = f"regionstack-mark-{uuid.uuid4()}"
    sent = send(sender, inventory, "client", marker)
    assert sent.rc == 0, sent.stderr
    name = sender.check_output("hostname")
    path = f"{REMOTE}/{name}/syslog.log"
    assert stored(host, path, f"{name} regionstack-test {marker}", 10), f"{marker} not in {path}"
    assert host.file(path).mode == 0o640 and host.file(path).group == "adm"


@pytest.mark.parametrize(
    ("cert", "why"),
    [(None, "no client certificate"), ("server", "a certificate without clientAuth")],
)
def test_receiver_refuses_a_peer(host, sender, inventory, cert, why):
    marker = f"regionstack-mark-{uuid.uuid4()}"
    send(sender, inventory, cert, marker)
    name = sender.check_output("hostname")
    assert not stored(host, REMOTE, f"{name} regionstack-test {marker}", 3), (
        f"a peer with {why} was accepted"
    )


def test_receiver_refuses_ciphers_outside_the_standard(host, sender, inventory):
    script = (
        "import socket,ssl,sys\n"
        "c=ssl.create_default_context(cafile=sys.argv[3]);c.check_hostname=False\n"
        "c.maximum_version=ssl.TLSVersion.TLSv1_2;c.set_ciphers('ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA')\n"
        "c.load_cert_chain(sys.argv[4],sys.argv[5])\n"
        "s=c.wrap_socket(socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=10))\n"
        "print(s.cipher())\n"
    )
    result = sender.run(
        f"python3 -c {shlex.quote(script)} {inventory['ansible_host']} {RECEIVER} {TLS}/ca.pem {TLS}/client.pem {TLS}/client.key"
    )
    assert result.rc != 0 and "SSL" in result.stderr, result.stdout


def test_forwarded_logger_line_arrives(host, sender):
    """common's forwarding end to end: a `logger` line on another host reaches the store."""
    marker = f"regionstack-mark-{uuid.uuid4()}"
    sender.run(f"logger -t regionstack-test {marker}")
    name = sender.check_output("hostname")
    path = f"{REMOTE}/{name}/syslog.log"
    assert stored(host, path, f"{name} regionstack-test {marker}", 20), f"{marker} not in {path}"


def test_security_log_counter_counts_events_in_the_window(host):
    """Run the counter on a synthetic store: recent failures count, old ones do not."""
    work = host.check_output("mktemp -d")
    now = host.check_output("date -u +%Y-%m-%dT%H:%M:%S+00:00")
    old = "2000-01-01T00:00:00+00:00"
    auth = "\n".join(
        [
            f"{old} web-1 sshd[13]: Failed password for root from 10.0.0.9 port 5 ssh2",
            f"{now} web-1 sshd[10]: Failed publickey for root from 10.0.0.9 port 2 ssh2",
            f"{now} web-1 sshd[11] Invalid user bob from 10.0.0.9 port 3",
            f"{now} web-1 sshd[12]: Accepted publickey for rsadmin from 10.0.0.1 port 4 ssh2",
        ]
    )
    syslog = f"{now} web-1 aide: AIDE found differences between database and filesystem!!"
    config = json.loads(host.file("/etc/regionstack/security-log-metrics.json").content_string)
    config.update(log_dir=f"{work}/remote", output=f"{work}/out.prom")
    host.run(f"mkdir -p {work}/remote/web-1")
    host.run(f"printf '%s\\n' {shlex.quote(auth)} > {work}/remote/web-1/auth.log")
    host.run(f"printf '%s\\n' {shlex.quote(syslog)} > {work}/remote/web-1/syslog.log")
    host.run(f"printf '%s' {shlex.quote(json.dumps(config))} > {work}/config.json")
    try:
        host.check_output(f"{COUNTER} {work}/config.json")
        metrics = host.file(f"{work}/out.prom").content_string
    finally:
        host.run(f"rm -rf {work}")
    assert 'regionstack_security_log_ssh_login_failures{source_host="web-1"} 2' in metrics
    assert 'regionstack_security_log_aide_change_reports{source_host="web-1"} 1' in metrics


def test_failed_logins_on_a_host_are_counted_on_the_monitor(host, sender):
    """End to end: invalid-user SSH logins on another host (over its loopback, which
    fail2ban ignores) reach the store and the counter attributes them to that host."""
    threshold = 5
    login = "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    for _ in range(threshold):
        sender.run(f"timeout 10 {login} regionstack-no-such-user@127.0.0.1 true")
    name = sender.check_output("hostname")
    assert stored(host, f"{REMOTE}/{name}/auth.log", "Invalid user regionstack-no-such-user", 10)
    time.sleep(2)
    work = host.check_output("mktemp -d")
    config = json.loads(host.file("/etc/regionstack/security-log-metrics.json").content_string)
    config.update(output=f"{work}/out.prom")
    host.run(f"printf '%s' {shlex.quote(json.dumps(config))} > {work}/config.json")
    try:
        host.check_output(f"{COUNTER} {work}/config.json")
        metrics = host.file(f"{work}/out.prom").content_string
    finally:
        host.run(f"rm -rf {work}")
    prefix = f'regionstack_security_log_ssh_login_failures{{source_host="{name}"}} '
    counts = [int(line[len(prefix) :]) for line in metrics.splitlines() if line.startswith(prefix)]
    assert counts and counts[0] >= threshold, metrics


def test_node_exporter_exports_the_security_log_counts(host, inventory):
    assert host.file(TEXTFILE).exists, (
        "the counter has not written yet (needs common's node_exporter)"
    )
    metrics = get(host, f"http://{inventory['ansible_host']}:9100/metrics")["body"]
    assert "regionstack_security_log_scan_timestamp_seconds" in metrics
