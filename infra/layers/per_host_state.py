"""What no image layer may hold: the state that makes a host this host.

Package maintainer scripts and the first start of a service make some of it on the build
host; a layer that kept it would give every host booted from it the same identity (one
SSH host key, one machine-id, one PostgreSQL system identifier). Each entry says what it
is and who makes it again on a host booted from the layer: the machine's create step
(local) or cloud-init (aws) for the identity files, a role's `boot` tasks for service
state, the `common` role's first-boot unit for what a package's postinst would have made.

The builders of both targets remove exactly these paths (glob patterns, relative to the
root) from a layer before it is published.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PerHostState:
    pattern: str  # relative to the root; shell-style glob
    what: str
    remade_by: str


PER_HOST_STATE: tuple[PerHostState, ...] = (
    PerHostState("etc/machine-id", "the machine-id", "the machine's create step / systemd"),
    PerHostState("var/lib/dbus/machine-id", "D-Bus's copy of the machine-id", "dbus at boot"),
    PerHostState("etc/ssh/ssh_host_*", "SSH host keys", "the machine's create step / cloud-init"),
    PerHostState("etc/hostname", "the build host's name", "the machine's create step"),
    PerHostState("etc/hosts", "the build host's name and address", "the machine's create step"),
    PerHostState("etc/resolv.conf", "the build network's resolver", "the machine's create step"),
    PerHostState(
        "etc/systemd/network/80-container-host0.network",
        "the build host's address",
        "the machine's create step",
    ),
    PerHostState(
        "home/*/.ssh/authorized_keys", "the build's admin key", "the machine's create step"
    ),
    PerHostState("root/.ssh", "root's SSH state", "nothing: root does not log in"),
    PerHostState("home/*/.ansible", "the build run's Ansible temp files", "Ansible, if needed"),
    PerHostState("root/.ansible", "the build run's Ansible temp files", "Ansible, if needed"),
    PerHostState("var/lib/systemd/random-seed", "the kernel RNG seed", "systemd at boot"),
    PerHostState("var/lib/systemd/credential.secret", "systemd's credential key", "systemd"),
    PerHostState(
        "etc/ssl/private/ssl-cert-snakeoil.key",
        "ssl-cert's snakeoil key",
        "common's first-boot unit",
    ),
    PerHostState(
        "etc/ssl/certs/ssl-cert-snakeoil.pem",
        "ssl-cert's snakeoil certificate",
        "common's first-boot unit",
    ),
    PerHostState(
        "var/lib/rabbitmq/.erlang.cookie", "the Erlang cookie", "data_exchange's boot tasks"
    ),
    PerHostState(
        "var/lib/rabbitmq/mnesia", "RabbitMQ's node database", "rabbitmq-server at first start"
    ),
    PerHostState(
        "etc/postgresql/*/main",
        "the PostgreSQL cluster's configuration",
        "the roles' boot tasks (pg_createcluster)",
    ),
    PerHostState(
        "var/lib/postgresql/*/main",
        "the PostgreSQL cluster (its system identifier)",
        "the roles' boot tasks (pg_createcluster)",
    ),
    PerHostState(
        "var/lib/aide/aide.db*", "the AIDE database", "the site playbook's baseline, last"
    ),
    PerHostState("home/*/.sudo_as_admin_successful", "the build admin's sudo marker", "sudo"),
    PerHostState("var/lib/sudo/*", "sudo's per-user timestamps and lectures", "sudo"),
    PerHostState("var/lib/chrony/chrony.drift", "the build host's clock drift", "chronyd"),
    PerHostState("var/lib/fail2ban/*", "fail2ban's ban database", "fail2ban"),
    PerHostState("var/lib/rsyslog/*", "rsyslog's journal cursor", "rsyslog"),
    PerHostState("var/lib/systemd/timers/*", "the build host's timer stamps", "systemd"),
    PerHostState(
        "var/lib/logrotate/status", "logrotate's record of the build host's logs", "logrotate"
    ),
    PerHostState("var/lib/rkhunter/tmp/*", "rkhunter's working copies", "rkhunter"),
    PerHostState(
        "var/cache/apt-show-versions/*",
        "the package lists of the build mirror",
        "apt-show-versions",
    ),
    PerHostState("var/log/journal/*", "the build host's journal", "journald"),
    PerHostState("var/log/syslog*", "the build host's syslog", "rsyslog"),
    PerHostState("var/log/wtmp", "the build host's logins", "login"),
    PerHostState("var/log/btmp", "the build host's failed logins", "login"),
    PerHostState("var/log/lastlog", "the build host's last logins", "login"),
    PerHostState("var/log/apt/*", "the build's apt history", "apt"),
    PerHostState("var/log/*.gz", "the build host's rotated logs", "logrotate"),
    PerHostState("var/log/*.log", "the build host's logs", "the services"),
    PerHostState("var/log/*/*.log", "the build host's logs", "the services"),
    PerHostState("var/log/sysstat/*", "the build host's activity records", "sysstat"),
    PerHostState(
        "var/lib/apt/lists/*", "the build mirror's indexes", "apt, from the region mirror"
    ),
    # Without its indexes, a layer must not claim a fresh apt cache: the apt module's
    # cache_valid_time reads these stamps and would skip the update a host needs.
    PerHostState(
        "var/lib/apt/periodic/*", "the build's apt update stamps", "apt, from the region mirror"
    ),
    PerHostState("var/cache/apt/archives/*.deb", "downloaded packages", "nothing: not needed"),
    PerHostState("var/cache/apt/*.bin", "apt's binary caches", "apt"),
    PerHostState("tmp/*", "the build's temporary files", "nothing"),
    PerHostState("var/tmp/*", "the build's temporary files", "nothing"),
)
