"""Host checks of the security_monitoring role (roles/security_monitoring), run against the
`security_monitoring` group.

    regionstack verify STACK --only security_monitoring

Everything the checks compare against (ports, retention, hosts, TLS material) comes from the
inventory the role ran with, so they hold for any region. Prometheus and Alertmanager are
queried on the monitor itself; log delivery is checked from the other hosts of the region.
"""

import json
import shlex
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.hosts.helpers import (
    TLS_DIR,
    TLS_VERSIONS,
    assert_chains_to_region_ca,
    assert_running_and_enabled,
    assert_tls_version_policy,
    connect,
    get_local,
    listeners,
    own_endpoint_handshake,
    prometheus_duration_days,
    public_ports,
    verify_context,
)

GROUP = "security_monitoring"
TLS = TLS_DIR
REMOTE = "/var/log/remote"
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


def pytest_generate_tests(metafunc):
    region = verify_context(metafunc.config).region
    if "job_target" in metafunc.fixturenames:
        cases = [
            (job, name) for job, component in JOBS for name in (region.groups.get(component, ()))
        ]
        metafunc.parametrize("job_target", cases, ids=[f"{j}-{n}" for j, n in cases])
    if "probe_target" in metafunc.fixturenames:
        cases = [
            (module, port, entry.name)
            for component, port, module in PROBES
            for entry in region.hosts_of(component)
        ]
        metafunc.parametrize("probe_target", cases, ids=[f"{m}-{n}:{p}" for m, p, n in cases])
    if "log_source" in metafunc.fixturenames:
        names = [h.name for h in region.hosts]
        metafunc.parametrize("log_source", names, ids=names)


@pytest.fixture(scope="module")
def groups(inventory):
    return inventory["groups"]


@pytest.fixture(scope="module")
def sender(context, groups):
    """Another host of the region, to send logs from."""
    names = sorted(set(groups["all"]) - set(groups["security_monitoring"]))
    if not names:
        pytest.skip("the region has no host besides the monitors")
    return connect(context, names[0])


def get(host, url):
    return get_local(host, url)


def api(host, port, path):
    answer = get(host, f"http://127.0.0.1:{port}{path}")
    assert answer["status"] == 200, answer["body"][:500]
    return json.loads(answer["body"])


# A region verified right after its rollout may have had a target scraped before its
# service was up (a fleet drift scan straight after `fleet up` saw three): such a target
# is up at its next scrape, every 30 s. So wait up to 2.5 intervals for every target to be
# up, then judge what Prometheus says: a target down for good still fails its test.
TARGETS_SETTLE_S = 75
TARGETS_POLL_S = 5


@pytest.fixture(scope="module")
def targets(host):
    deadline = time.monotonic() + TARGETS_SETTLE_S
    while True:
        active = api(host, PROMETHEUS, "/api/v1/targets")["data"]["activeTargets"]
        settled = bool(active) and all(t["health"] == "up" for t in active)
        if settled or time.monotonic() >= deadline:
            return active
        time.sleep(TARGETS_POLL_S)


@pytest.fixture(scope="module")
def rules(host):
    groups_ = api(host, PROMETHEUS, "/api/v1/rules")["data"]["groups"]
    return {rule["name"]: rule for group in groups_ for rule in group["rules"]}


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
    assert_running_and_enabled(host, unit)


def test_monitor_ports_are_the_standard_ones(standard):
    assert sorted(standard["components"]["security_monitoring"]["listens"]) == sorted(
        [PROMETHEUS, ALERTMANAGER, RECEIVER]
    )


def test_listens_on_exactly_the_standards_ports(host, standard):
    component = set(standard["components"]["security_monitoring"]["listens"])
    common = set(standard["common"]["listens"])
    assert public_ports(host) - common == component


def test_blackbox_exporter_listens_on_loopback_only(host):
    addresses = {address for address, port in listeners(host) if port == 9115}
    assert addresses == {"127.0.0.1"}


def test_alertmanager_has_no_cluster_listener(host):
    sockets = listeners(host) + listeners(host, "udp")
    assert [s for s in sockets if s[1] == 9094] == []


@pytest.mark.parametrize("version", TLS_VERSIONS)
def test_receiver_tls_version_policy(host, inventory, standard, version):
    """TLS below the standard's minimum is refused by the server, the rest accepted."""
    result = own_endpoint_handshake(host, inventory, RECEIVER, version=version, client_cert=True)
    assert_tls_version_policy(result, version, standard["tls"]["min_version"])


def test_receiver_certificate_chains_to_the_region_ca(host, inventory):
    ca_pem = inventory["regionstack_tls_ca_pem"]
    result = own_endpoint_handshake(host, inventory, RECEIVER, client_cert=True)
    assert_chains_to_region_ca(result, ca_pem, host.backend.hostname)


def test_prometheus_keeps_samples_for_the_standard_retention(host, standard):
    flags = api(host, PROMETHEUS, "/api/v1/status/flags")["data"]
    retention = flags["storage.tsdb.retention.time"]
    assert prometheus_duration_days(retention) >= standard["log_retention_days"], retention


@pytest.mark.parametrize(("job", "component"), JOBS)
def test_scrape_job_covers_every_host_of_its_component(targets, groups, job, component):
    hosts = {t["labels"]["host"] for t in targets if t["labels"]["job"] == job}
    assert set(groups[component]) <= hosts, f"{job} misses {sorted(set(groups[component]) - hosts)}"


def test_every_target_carries_component_region_and_host(targets, inventory, standard):
    assert targets, "Prometheus has no targets"
    unlabelled = [
        target["labels"]
        for target in targets
        if target["labels"].get("region_code") != inventory["regionstack_code"]
        or target["labels"].get("host") not in inventory["groups"]["all"]
        or target["labels"].get("component") not in standard["components"]
    ]
    assert unlabelled == [], f"targets without this region's labels: {unlabelled}"


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


def test_scrape_target_is_up(targets, job_target):
    job, name = job_target
    found = [t for t in targets if t["labels"]["job"] == job and t["labels"]["host"] == name]
    assert found, f"Prometheus does not scrape {name} in job {job}"
    down = [(t["scrapeUrl"], t["health"], t["lastError"]) for t in found if t["health"] != "up"]
    assert down == [], down


def test_blackbox_probe_succeeds(host, targets, probe_target):
    module, port, name = probe_target
    found = [
        t
        for t in targets
        if t["labels"]["job"] == "blackbox"
        and t["labels"].get("module") == module
        and t["labels"]["host"] == name
        and t["labels"]["instance"].endswith(f":{port}")
    ]
    assert len(found) == 1, f"{len(found)} {module} probe(s) of {name}:{port}"
    assert found[0]["health"] == "up", found[0]["lastError"]
    query = f'probe_success{{job="blackbox",module="{module}",host="{name}",instance=~".*:{port}"}}'
    answer = api(host, PROMETHEUS, "/api/v1/query?query=" + urllib.parse.quote(query))
    values = [sample["value"][1] for sample in answer["data"]["result"]]
    assert values == ["1"], f"{query} = {values}"


def test_every_target_is_up(targets):
    """Whatever the jobs above do not name: every active target is up."""
    down = [
        (t["labels"].get("job"), t["labels"].get("host"), t["lastError"])
        for t in targets
        if t["health"] != "up"
    ]
    assert targets and down == [], down


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
    # Only where an accepted message would land: the monitor's own auth.log (also in the
    # store) records the grep below, marker included.
    path = f"{REMOTE}/{name}/syslog.log"
    assert not stored(host, path, f"{name} regionstack-test {marker}", 3), (
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


@pytest.fixture(scope="module")
def markers(host, context, region):
    """One `logger` line sent on every host of the region at once: {host: (marker, rc)}."""

    def send_from(name):
        marker = f"regionstack-mark-{uuid.uuid4()}"
        result = connect(context, name).run("logger -t regionstack-verify %s", marker)
        return name, (marker, result.rc)

    with ThreadPoolExecutor(max_workers=len(region.hosts)) as pool:
        return dict(pool.map(send_from, [h.name for h in region.hosts]))


def test_logs_of_every_host_arrive(host, markers, log_source):
    """common's forwarding from each host (and the monitor's own lines): a `logger` line
    there reaches this monitor's store under the host's name."""
    # The monitor's own lines join its store too (the receiver's default-ruleset call).
    marker, sent = markers[log_source]
    assert sent == 0, f"logger failed on {log_source}"
    path = f"{REMOTE}/{log_source}/syslog.log"
    # Forwarded lines are RFC 5424 (no colon after the tag); the monitor's own keep it.
    colon = ":" if log_source == host.backend.hostname else ""
    line = f"{log_source} regionstack-verify{colon} {marker}"
    assert stored(host, path, line, 20), f"{marker} from {log_source} not in {path}"


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
        # `|| true`: ssh's own 255 would read as a failure of the connection to the sender.
        sender.run(f"timeout 10 {login} regionstack-no-such-user@127.0.0.1 true || true")
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
