"""Host checks of the common baseline (roles/common), run against every host.

    regionstack verify STACK --only common

Expected values come from the inventory the role ran with (gateway, inbound flows, monitor
hosts, the standard's ports and retention), so the checks hold for any region. Commands
run as root through the inventory's become settings.
"""

import json
import re
import subprocess
import uuid

import pytest

from tests.hosts.helpers import (
    TLS_DIR,
    assert_running_and_enabled,
    journal,
    listeners,
    public_ports,
)

GROUP = "all"
FIREWALL_TABLE = "regionstack_host"
AUDIT_RULES_FILE = "/etc/audit/rules.d/regionstack.rules"
APT_SOURCES_FILE = "/etc/apt/sources.list.d/debian.sources"
AUDITD_CONTAINER_DROP_IN = "/etc/systemd/system/auditd.service.d/regionstack-container.conf"

PACKAGES = [
    "aide",
    "aide-common",
    "audispd-plugins",
    "auditd",
    "ca-certificates",
    "chrony",
    "fail2ban",
    "libpam-pwquality",
    "nftables",
    "prometheus-node-exporter",
    "rsyslog",
    "rsyslog-gnutls",
    "ssl-cert",
    "unattended-upgrades",
]
SERVICES = [
    "nftables",
    "ssh",
    "fail2ban",
    "rsyslog",
    "chrony",
    "prometheus-node-exporter",
]
TIMERS = ["dailyaidecheck.timer", "apt-daily.timer", "apt-daily-upgrade.timer"]
MASKED_UNITS = ["ctrl-alt-del.target", "debug-shell.service"]
# Network services the design never runs (roles/common defaults: common_minimal_absent_packages).
ABSENT_PACKAGES = [
    "avahi-daemon",
    "cups-daemon",
    "exim4-daemon-light",
    "inetutils-telnetd",
    "nfs-kernel-server",
    "nis",
    "rpcbind",
    "rsh-server",
    "snmpd",
    "talkd",
    "tftpd-hpa",
    "xinetd",
]
# /etc/default/rkhunter: scan daily, follow package upgrades, fetch nothing from outside.
RKHUNTER_DEFAULTS = ['CRON_DAILY_RUN="true"', 'CRON_DB_UPDATE="false"', 'APT_AUTOGEN="true"']

# `sshd -T` prints lower-case keys and the effective values.
SSHD_EFFECTIVE = [
    ("permitrootlogin", "no"),
    ("passwordauthentication", "no"),
    ("kbdinteractiveauthentication", "no"),
    ("pubkeyauthentication", "yes"),
    ("authenticationmethods", "publickey"),
    ("permitemptypasswords", "no"),
    ("maxauthtries", "3"),
    ("logingracetime", "30"),
    ("clientaliveinterval", "300"),
    ("clientalivecountmax", "2"),
    ("compression", "no"),
    ("tcpkeepalive", "no"),
    ("x11forwarding", "no"),
    ("allowagentforwarding", "no"),
    ("allowtcpforwarding", "no"),
    ("permituserenvironment", "no"),
    ("loglevel", "VERBOSE"),
    ("banner", "/etc/issue.net"),
    (
        "ciphers",
        "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
        "aes256-ctr,aes192-ctr,aes128-ctr",
    ),
    (
        "macs",
        "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com",
    ),
]
WEAK_SSH_ALGORITHMS = [
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group14-sha1",
    "hmac-sha1",
    "hmac-md5",
    "3des-cbc",
    "aes128-cbc",
    "ssh-rsa,",
]

TLS_FILES = [
    ("ca.pem", 0o644, "root"),
    ("server.pem", 0o644, "root"),
    ("server.key", 0o640, "ssl-cert"),
    ("client.pem", 0o644, "root"),
    ("client.key", 0o640, "ssl-cert"),
]

LOGIN_DEFS = [
    ("PASS_MAX_DAYS", "90"),
    ("PASS_MIN_DAYS", "1"),
    ("PASS_WARN_AGE", "7"),
    ("UMASK", "027"),
]

AUDIT_RULES = [
    "-w /etc/passwd -p wa -k identity",
    "-w /etc/shadow -p wa -k identity",
    "-w /etc/group -p wa -k identity",
    "-w /etc/gshadow -p wa -k identity",
    "-w /etc/sudoers -p wa -k privilege",
    "-w /etc/sudoers.d/ -p wa -k privilege",
    "-w /etc/ssh/sshd_config -p wa -k sshd",
    "-w /etc/ssh/sshd_config.d/ -p wa -k sshd",
    "-S adjtimex,settimeofday,clock_settime -k time-change",
    "-w /var/log/wtmp -p wa -k session",
    "-w /var/log/lastlog -p wa -k logins",
    "-S init_module,finit_module,delete_module -k modules",
    "-F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k privileged",
]
PRIVILEGED_COMMANDS = [
    "/usr/bin/sudo",
    "/usr/bin/su",
    "/usr/bin/passwd",
    "/usr/bin/chsh",
    "/usr/bin/chfn",
    "/usr/bin/chage",
    "/usr/bin/gpasswd",
    "/usr/bin/newgrp",
    "/usr/bin/mount",
    "/usr/bin/umount",
    "/usr/sbin/unix_chkpwd",
]

NET_SYSCTLS = [
    ("net.ipv4.conf.all.rp_filter", "1"),
    ("net.ipv4.conf.all.accept_redirects", "0"),
    ("net.ipv4.conf.all.send_redirects", "0"),
    ("net.ipv4.conf.all.accept_source_route", "0"),
    ("net.ipv4.conf.all.log_martians", "1"),
    ("net.ipv4.tcp_syncookies", "1"),
    ("net.ipv6.conf.all.accept_redirects", "0"),
]

BANNER_FILES = ["/etc/issue", "/etc/issue.net", "/etc/motd"]
BANNER_PHRASES = ["仅限经授权的人员", "authorised use only"]


@pytest.fixture(scope="module")
def flows(standard):
    return {flow["name"]: flow for flow in standard["flows"]}


@pytest.fixture(scope="module")
def gateway(inventory):
    return inventory["regionstack_gateway"]


@pytest.fixture(scope="module")
def in_container(host):
    return host.run("systemd-detect-virt --container").rc == 0


def first_port(flows, name):
    return flows[name]["ports"][0]


# --- packages and services --------------------------------------------------------------


@pytest.mark.parametrize("name", PACKAGES)
def test_package_is_installed(host, name):
    assert host.package(name).is_installed, f"{name} is not installed"


@pytest.mark.parametrize("name", ABSENT_PACKAGES)
def test_network_service_package_is_absent(host, name):
    assert not host.package(name).is_installed


@pytest.mark.parametrize("unit", SERVICES)
def test_service_runs_and_starts_at_boot(host, unit):
    assert_running_and_enabled(host, unit)


@pytest.mark.parametrize("unit", TIMERS)
def test_timer_is_enabled(host, unit):
    assert host.service(unit).is_enabled, f"{unit} is not enabled"


@pytest.mark.parametrize("unit", MASKED_UNITS)
def test_unit_is_masked(host, unit):
    state = host.run("systemctl is-enabled %s", unit).stdout.strip()
    assert state == "masked", f"{unit} is {state!r}, not masked"


def test_no_unit_has_failed(host):
    failed = host.run("systemctl list-units --failed --plain --no-legend").stdout.strip()
    assert not failed, f"failed units:\n{failed}"


# --- apt ----------------------------------------------------------------------------------


def test_apt_has_no_other_sources(host):
    # A file names a source by a one-line "deb" or a deb822 "URIs:" (the role's criterion).
    # An empty sources.list is no source and may exist: unattended-upgrade creates one
    # whenever its timer runs (python-apt's Cache(rootdir="/") makes the files it expects).
    defining = host.run(
        r"grep -slE '^\s*(deb|deb-src|URIs:)\s' /etc/apt/sources.list"
        " /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources"
    ).stdout.split()
    # The region mirror's file must be found too, or the grep proved nothing.
    assert defining == [APT_SOURCES_FILE], f"files that name apt sources: {defining}"


def test_apt_sources_point_only_at_the_gateway(host, gateway):
    uris = host.run("apt-get indextargets --format '$(REPO_URI)'").stdout.split()
    assert uris, "apt knows no index targets"
    elsewhere = sorted({uri for uri in uris if not uri.startswith(f"http://{gateway}:3142/")})
    assert elsewhere == [], f"apt sources outside the gateway's proxy: {elsewhere}"


def test_apt_sources_are_signed_by_the_debian_keyring(host):
    content = host.file(APT_SOURCES_FILE).content_string
    stanzas = [s for s in content.split("\n\n") if "URIs:" in s]
    unsigned = [
        s for s in stanzas if "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" not in s
    ]
    assert stanzas and unsigned == [], content


# --- tls ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "mode", "group"), TLS_FILES)
def test_tls_file_mode_and_owner(host, name, mode, group):
    tls_file = host.file(f"{TLS_DIR}/{name}")
    assert tls_file.exists, f"{TLS_DIR}/{name} is missing"
    assert tls_file.user == "root"
    assert tls_file.group == group
    assert tls_file.mode == mode, f"{name} has mode {oct(tls_file.mode)}"


@pytest.mark.parametrize("kind", ["server", "client"])
def test_tls_certificate_chains_to_the_region_ca(host, kind):
    result = host.run("openssl verify -CAfile %s %s", f"{TLS_DIR}/ca.pem", f"{TLS_DIR}/{kind}.pem")
    assert result.rc == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["server", "client"])
def test_tls_key_matches_its_certificate(host, kind):
    from_cert = host.run("openssl x509 -in %s -noout -pubkey", f"{TLS_DIR}/{kind}.pem")
    from_key = host.run("openssl pkey -in %s -pubout", f"{TLS_DIR}/{kind}.key")
    assert from_cert.rc == 0 and from_key.rc == 0, from_cert.stderr + from_key.stderr
    assert from_cert.stdout == from_key.stdout, f"{kind}.key is not the key of {kind}.pem"


@pytest.mark.parametrize("kind", ["server", "client"])
def test_tls_certificate_is_followed_by_the_ca_chain(host, kind):
    chain = host.file(f"{TLS_DIR}/ca.pem").content_string.strip()
    bundle = host.file(f"{TLS_DIR}/{kind}.pem").content_string.strip()
    assert bundle.endswith(chain), f"{kind}.pem does not end with the CA chain"
    assert bundle.count("BEGIN CERTIFICATE") == chain.count("BEGIN CERTIFICATE") + 1


# --- users, accounts policy, banner -------------------------------------------------------


def test_root_password_is_locked(host):
    status = host.run("passwd -S root").stdout.split()
    assert status[1] == "L", f"root's password is not locked: {status}"


def test_admin_is_the_only_human_login(host, inventory):
    logins = [
        line.split(":")[0]
        for line in host.run("getent passwd").stdout.splitlines()
        if 1000 <= int(line.split(":")[2]) < 60000
        and not line.split(":")[6].endswith(("nologin", "false"))
    ]
    assert logins == [inventory["ansible_user"]], f"human accounts with a login shell: {logins}"


def test_admin_password_is_locked_and_never_expires(host, inventory):
    admin = inventory["ansible_user"]
    status = host.run("passwd -S %s", admin).stdout.split()
    assert status[1] == "L", f"{admin}'s password is usable: {status}"
    expiry = host.run("chage -l %s", admin).stdout
    assert "Password expires\t\t\t\t\t: never" in expiry, expiry


@pytest.mark.parametrize(("key", "value"), LOGIN_DEFS)
def test_login_defs(host, key, value):
    values = [
        line.split()[1]
        for line in host.file("/etc/login.defs").content_string.splitlines()
        if line.split()[:1] == [key]
    ]
    assert values == [value], f"{key} in login.defs: {values}"


@pytest.mark.parametrize(("key", "value"), [("minlen", "12"), ("minclass", "3")])
def test_password_quality(host, key, value):
    conf = host.file("/etc/security/pwquality.conf.d/60-regionstack.conf").content_string
    assert f"{key} = {value}" in conf
    assert "pam_pwquality.so" in host.file("/etc/pam.d/common-password").content_string


@pytest.mark.parametrize("line", ["deny = 5", "unlock_time = 900"])
def test_faillock_settings(host, line):
    assert line in host.file("/etc/security/faillock.conf").content_string


def test_faillock_wraps_pam_unix_in_common_auth(host):
    # "auth <control> <module> <args>"; a bracketed control holds spaces, so start at the module.
    lines = [
        line
        for line in host.file("/etc/pam.d/common-auth").content_string.splitlines()
        if line.startswith("auth")
    ]
    names = [" ".join(line[re.search(r"pam_\w+\.so", line).start() :].split()) for line in lines]
    preauth = names.index("pam_faillock.so preauth")
    unix = next(i for i, name in enumerate(names) if name.startswith("pam_unix.so"))
    authfail = names.index("pam_faillock.so authfail")
    assert preauth < unix < authfail, names


def test_idle_shells_time_out(host):
    result = host.run("bash -lc 'echo $TMOUT; readonly -p | grep -c \" TMOUT=\"'")
    assert result.stdout.split() == ["900", "1"], result.stdout + result.stderr


@pytest.mark.parametrize("path", BANNER_FILES)
@pytest.mark.parametrize("phrase", BANNER_PHRASES)
def test_banner_warns_in_chinese_and_english(host, path, phrase):
    assert phrase in host.file(path).content_string


# --- sshd ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sshd_effective(host):
    result = host.run("sshd -T")
    assert result.rc == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)


@pytest.mark.parametrize(("key", "value"), SSHD_EFFECTIVE)
def test_sshd_effective_setting(sshd_effective, key, value):
    assert sshd_effective.get(key) == value, f"sshd -T: {key} {sshd_effective.get(key)}"


def test_sshd_allows_only_the_admin(sshd_effective, inventory):
    assert sshd_effective.get("allowusers") == inventory["ansible_user"]


def ssh_attempt(context, name, *options):
    """A login attempt from the admin's side (this machine, an admin source that fail2ban
    never bans), on a fresh connection: never through the multiplexed master."""
    if context.host_spec(name)[0].partition("://")[0] != "ssh":
        pytest.skip(f"{name} is not reached over ssh from here")
    command = ["ssh", "-F", context.ssh_config, "-o", "ControlMaster=no", "-o", "ControlPath=none"]
    command += [arg for option in options for arg in ("-o", option)]
    return subprocess.run(
        [*command, name, "true"], capture_output=True, text=True, timeout=30, check=False
    )


def test_sshd_refuses_a_password_login(host, context):
    """The client asks for password and keyboard-interactive only; the server offers
    neither (`Permission denied (publickey)` lists what it would accept)."""
    result = ssh_attempt(
        context,
        host.backend.hostname,
        "PubkeyAuthentication=no",
        "PreferredAuthentications=password,keyboard-interactive",
    )
    assert result.returncode == 255, f"logged in without a key: {result.stdout}"
    assert "Permission denied (publickey)" in result.stderr, result.stderr


def test_sshd_refuses_root_with_the_admin_key(host, context):
    result = ssh_attempt(context, host.backend.hostname, "User=root")
    assert result.returncode == 255, f"root logged in: {result.stdout}"
    assert "Permission denied (publickey)" in result.stderr, result.stderr


def test_admin_logs_in_with_the_key(host, context):
    """The other side of the two refusals above: the admin's key is accepted."""
    result = ssh_attempt(context, host.backend.hostname)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("algorithm", WEAK_SSH_ALGORITHMS)
def test_sshd_offers_no_weak_algorithm(sshd_effective, algorithm):
    offered = ",".join(sshd_effective.get(k, "") for k in ("kexalgorithms", "ciphers", "macs"))
    assert algorithm not in offered + ","


# --- firewall -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ruleset(host):
    result = host.run("nft -j list table inet %s", FIREWALL_TABLE)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)["nftables"]


def chain(ruleset, name):
    return next(
        item["chain"] for item in ruleset if "chain" in item and item["chain"]["name"] == name
    )


@pytest.mark.parametrize(
    ("name", "policy"), [("input", "drop"), ("forward", "drop"), ("output", "accept")]
)
def test_firewall_chain_policy(ruleset, name, policy):
    assert chain(ruleset, name)["policy"] == policy


def test_firewall_has_a_rule_for_every_inbound_flow(ruleset, inventory):
    comments = {item["rule"].get("comment") for item in ruleset if "rule" in item}
    missing = [
        flow["flow"] for flow in inventory["regionstack_inbound"] if flow["flow"] not in comments
    ]
    assert missing == [], f"inbound flows without a firewall rule: {missing}"


def test_firewall_admits_nothing_else(ruleset, inventory):
    comments = [
        item["rule"]["comment"] for item in ruleset if "rule" in item and "comment" in item["rule"]
    ]
    expected = sorted(flow["flow"] for flow in inventory["regionstack_inbound"])
    assert sorted(comments) == expected


def test_firewall_starts_at_boot_from_the_saved_ruleset(host):
    assert host.run("nft -c -f /etc/nftables.conf").rc == 0
    assert FIREWALL_TABLE in host.file("/etc/nftables.conf").content_string


# --- listeners ----------------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["admin-ssh", "monitor-scrapes-hosts"])
def test_common_port_listens_on_all_addresses(host, flows, flow):
    port = first_port(flows, flow)
    addresses = {address for address, bound in listeners(host) if bound == port}
    assert addresses & {"0.0.0.0", "*", "::"}, f"port {port} listens on {sorted(addresses)}"


def test_listens_on_exactly_the_standards_ports(host, inventory, standard):
    """No extra listener: beyond loopback, a host serves exactly the ports of its
    components in the standard, plus common's (roles/README.md)."""
    expected = set(standard["common"]["listens"])
    for component in inventory["group_names"]:
        expected |= set(standard["components"].get(component, {}).get("listens", []))
    assert public_ports(host) == expected, (
        f"extra: {sorted(public_ports(host) - expected)}, "
        f"missing: {sorted(expected - public_ports(host))}\n{host.check_output('ss -Hlntp')}"
    )


def test_no_udp_listener_beyond_loopback(host):
    # Time and logs are TCP or client-only here: chronyd serves no NTP, rsyslog no UDP.
    # A socket on a port of the kernel's ephemeral range is a client's, the port chosen by
    # the kernel (Erlang's resolver keeps one open once RabbitMQ has looked a name up): no
    # service can be pointed at it, and the firewall admits nothing to it either.
    low, high = (
        int(p) for p in host.file("/proc/sys/net/ipv4/ip_local_port_range").content_string.split()
    )
    services = {port for port in public_ports(host, "udp") if not low <= port <= high}
    assert services == set(), host.check_output("ss -Hlnup")


def test_node_exporter_serves_metrics(host, flows):
    port = first_port(flows, "monitor-scrapes-hosts")
    result = host.run(
        "python3 -c 'import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' %s",
        f"http://127.0.0.1:{port}/metrics",
    )
    assert result.rc == 0, result.stderr
    assert "node_uname_info" in result.stdout


# --- fail2ban, time, updates ----------------------------------------------------------------


def test_fail2ban_jails_sshd_with_nftables(host):
    status = host.run("fail2ban-client status sshd")
    assert status.rc == 0, status.stdout + status.stderr
    jail = host.run("fail2ban-client get sshd actions").stdout
    assert "nftables" in jail, jail


def test_chrony_uses_only_the_gateway(host, gateway):
    conf = host.file("/etc/chrony/chrony.conf").content_string
    sources = [
        line.split()[1] for line in conf.splitlines() if line.split()[:1] in (["server"], ["pool"])
    ]
    assert sources == [gateway]
    assert not [
        line for line in conf.splitlines() if line.startswith(("sourcedir", "confdir", "pool"))
    ]


def test_chrony_tracks_the_gateway(host, gateway):
    sources = host.run("chronyc -n sources").stdout
    assert any(line.startswith("^") and gateway in line for line in sources.splitlines()), sources


def test_unattended_upgrades_take_only_security_updates(host):
    patterns = host.run("apt-config dump Unattended-Upgrade::Origins-Pattern").stdout.splitlines()
    # The first line is the list's own node, with an empty value.
    values = [line.split('"')[1] for line in patterns if '"' in line and line.split('"')[1]]
    assert values and all("label=Debian-Security" in v for v in values), values


@pytest.mark.parametrize("key", ["Update-Package-Lists", "Unattended-Upgrade"])
def test_apt_periodic(host, key):
    assert host.run("apt-config shell V APT::Periodic::%s", key).stdout.strip() == "V='1'"


# --- audit, aide -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def audit_rules(host):
    rules = host.file(AUDIT_RULES_FILE)
    assert (rules.user, rules.group, rules.mode) == ("root", "root", 0o640)
    return rules.content_string


@pytest.mark.parametrize("rule", AUDIT_RULES)
def test_audit_rule(audit_rules, rule):
    assert rule in audit_rules


def test_audit_rules_end_immutable(audit_rules):
    lines = [line for line in audit_rules.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[-1] == "-e 2"


@pytest.mark.parametrize("path", PRIVILEGED_COMMANDS)
def test_audited_privileged_command_exists(host, path, audit_rules):
    assert f"-F path={path} " in audit_rules
    assert host.file(path).exists, f"{path} is audited but absent"


def test_auditd_runs_and_loaded_the_rules(host, in_container):
    if in_container:
        pytest.skip(
            "a container: the kernel accepts audit only from the initial PID namespace, so "
            "auditd cannot run here; its rules file is checked above and the unit's skip "
            "by ConditionVirtualization below"
        )
    assert_running_and_enabled(host, "auditd")
    loaded = host.check_output("auditctl -l")
    assert "-k identity" in loaded and "-k privileged" in loaded, loaded
    assert host.check_output("auditctl -s").split("enabled ")[1].startswith("2"), "not immutable"


def test_auditd_is_skipped_in_a_container_for_that_reason(host, in_container):
    """What is true in a container: auditd is enabled (it runs on a VM), its rules are
    written (above), and systemd skips it because of the role's
    ConditionVirtualization=!container drop-in, not because it failed. The condition is
    evaluated as systemd will at the next start, without starting anything."""
    if not in_container:
        pytest.skip("not a container: auditd must run (checked above)")
    drop_in = host.file(AUDITD_CONTAINER_DROP_IN)
    assert drop_in.contains("^ConditionVirtualization=!container$"), drop_in.content_string
    shown = host.check_output("systemctl show auditd.service -p DropInPaths -p ActiveState")
    assert AUDITD_CONTAINER_DROP_IN in shown, f"the drop-in is not loaded: {shown}"
    assert "ActiveState=failed" not in shown, journal(host, "auditd")
    assert host.service("auditd").is_enabled, journal(host, "auditd")
    condition = host.run("systemd-analyze condition --unit=auditd.service")
    output = condition.stdout + condition.stderr
    assert condition.rc != 0, f"auditd's start conditions hold in a container: {output}"
    assert "ConditionVirtualization=!container failed" in output, output


def test_aide_database_is_recorded(host):
    database = host.file("/var/lib/aide/aide.db")
    assert database.exists and database.size > 0
    assert database.user == "_aide"


def test_aide_check_finds_the_database_readable(host):
    result = host.run("aide --config /etc/aide/aide.conf --check")
    # 0: no change; 1-7: changes found (reported daily); 14+: errors (config, database).
    assert result.rc < 14, result.stdout[-2000:] + result.stderr


def test_aide_report_goes_to_syslog_instead_of_mail(host):
    assert (
        'MAILCMD="/usr/local/sbin/regionstack-aide-report"'
        in host.file("/etc/default/aide").content_string
    )
    marker = f"regionstack-aide-{uuid.uuid4()}"
    # The way dailyaidecheck calls its mailer: subject and recipient, the report on stdin.
    sent = host.run(
        f"printf 'Added entries detected!\\n{marker}\\n' | "
        "/usr/local/sbin/regionstack-aide-report -s 'Daily AIDE report' root"
    )
    assert sent.rc == 0, sent.stderr
    logged = host.run(f"journalctl -t aide --since -5min --no-pager -o cat | grep -F {marker}")
    assert logged.rc == 0, f"the AIDE report did not reach the journal: {logged.stdout}"


@pytest.mark.parametrize("line", RKHUNTER_DEFAULTS)
def test_rootkit_scanner_runs_daily_without_fetching_updates(host, line):
    assert host.package("rkhunter").is_installed
    assert host.file("/etc/cron.daily/rkhunter").exists, "rkhunter's daily cron job is missing"
    assert line in host.file("/etc/default/rkhunter").content_string


# --- logging, sysctl, core dumps ---------------------------------------------------------


def test_journal_is_persistent(host, standard):
    assert host.file("/var/log/journal").is_directory
    retention = standard["log_retention_days"]
    conf = host.file("/etc/systemd/journald.conf.d/60-regionstack.conf").content_string
    assert f"MaxRetentionSec={retention}day" in conf


def test_rsyslog_configuration_is_valid(host):
    result = host.run("rsyslogd -N1")
    assert result.rc == 0, result.stderr


def test_logs_go_to_every_other_monitor_over_tls(host, inventory, flows):
    monitors = [
        m
        for m in inventory["groups"].get("security_monitoring", [])
        if m != inventory["inventory_hostname"]
    ]
    forward = host.file("/etc/rsyslog.d/60-regionstack-forward.conf")
    if not monitors:
        assert not forward.exists
        return
    conf = forward.content_string
    settings = (
        'StreamDriverMode="1"',
        'StreamDriverAuthMode="x509/name"',
        f'port="{first_port(flows, "logs-to-monitor")}"',
        'queue.type="LinkedList"',
    )
    miscounted = {s: conf.count(s) for s in settings if conf.count(s) != len(monitors)}
    assert miscounted == {}, f"settings not once per monitor ({len(monitors)}): {miscounted}"
    missing = [m for m in monitors if f'StreamDriverPermittedPeers="{m}"' not in conf]
    assert missing == [], f"monitors without a forwarding action: {missing}"


@pytest.mark.parametrize(("key", "value"), NET_SYSCTLS)
def test_network_sysctl(host, key, value):
    assert host.sysctl(key) == int(value)


def test_core_dumps_are_disabled(host):
    assert (
        "hard\tcore\t0"
        in host.file("/etc/security/limits.d/60-regionstack-coredumps.conf").content_string
    )
    assert (
        "DefaultLimitCORE=0"
        in host.file("/etc/systemd/system.conf.d/60-regionstack-coredumps.conf").content_string
    )
    assert host.run("systemctl show -p DefaultLimitCORE").stdout.strip() == "DefaultLimitCORE=0"
