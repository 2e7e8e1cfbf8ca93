"""Local machines for real: systemd-nspawn guests booted from the image on a test bridge.

The bridge `rstest0` (10.250.99.1/24) is made here and removed afterwards; the machines
use 10.250.99.10-13 and are the only hosts these tests talk to. The provider is called
directly (create, read, diff, update, delete) for two machines, which are logged into,
rebooted from inside, killed from outside and repaired; then one machine goes through the
real Pulumi engine and CLI (up, a no-change up, refresh after a kill, up, destroy). After
each delete nothing of a machine may be left: no process, mount, cgroup or state dir.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local import cgroups
from infra.local import supervisor as sv
from infra.local.image import ADMIN_USER, ensure_image
from infra.local.machine import inputs, overlay, power
from infra.local.machine.errors import MachineError
from infra.local.ports import port_name
from modules.local.machine import MachineProvider
from tests.e2e.conftest import needs_root_and

ROOT = Path(__file__).resolve().parents[3]
pytestmark = needs_root_and(
    "ip", "systemd-nspawn", "ssh", "ssh-keygen", "ssh-keyscan", "mount", "journalctl"
)

BRIDGE = "rstest0"
NETWORK = ipaddress.IPv4Network("10.250.99.0/24")
GATEWAY = "10.250.99.1"
STACK = "rstest"
# Names longer than a link name allows (15 characters) and sharing a prefix: the port
# names of infra/local/ports.py must tell them apart, or the second machine gets no port.
MACHINES = {"rstest-machine-a": "10.250.99.10", "rstest-machine-b": "10.250.99.11"}
PULUMI_MACHINE = ("rstest-pulumi-c", "10.250.99.12")
UNDONE_MACHINE = ("rstest-undone-d", "10.250.99.13")
ROUTE_WAIT_S = 600.0  # tests/e2e/local/test_network.py uses the same /24 on its own bridge
COME_BACK_S = 60.0


def sh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout)


def wait_for(what: str, condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


# --- fixtures --------------------------------------------------------------------------


def _foreign_routes() -> list[str]:
    routes = json.loads(sh("ip", "-j", "-4", "route", "show").stdout or "[]")
    return [
        f"{r['dst']} dev {r.get('dev')}"
        for r in routes
        if r.get("dev") != BRIDGE
        and r["dst"] != "default"
        and ipaddress.IPv4Network(r["dst"], strict=False).overlaps(NETWORK)
    ]


@pytest.fixture(scope="module")
def bridge() -> Iterator[str]:
    # Another test's bridge on the same /24 would make the gateway address ambiguous.
    started = time.monotonic()
    while clash := _foreign_routes():
        if time.monotonic() - started > ROUTE_WAIT_S:
            pytest.fail(f"{NETWORK} stays routed elsewhere ({clash}); remove that first")
        time.sleep(2)
    sh("ip", "link", "del", BRIDGE, check=False)  # left by a killed run of this module
    sh("ip", "link", "add", BRIDGE, "type", "bridge")
    try:
        sh("ip", "addr", "add", f"{GATEWAY}/{NETWORK.prefixlen}", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        yield BRIDGE
    finally:
        sh("ip", "link", "del", BRIDGE, check=False)


@pytest.fixture(scope="module")
def rootfs() -> Path:
    return ensure_image()


@dataclass
class Key:
    private: Path
    public: str


def make_key(directory: Path, name: str) -> Key:
    path = directory / name
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"e2e-{name}", "-f", str(path))
    return Key(path, path.with_suffix(".pub").read_text().strip())


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("machines")


@pytest.fixture(scope="module")
def admin_key(work: Path) -> Key:
    return make_key(work, "admin")


def machine_props(
    name: str, address: str, rootfs: Path, work: Path, key: Key, bridge: str
) -> dict[str, Any]:
    return {
        "name": name,
        "stack": STACK,
        "address": address,
        "prefix_length": NETWORK.prefixlen,
        "gateway": GATEWAY,
        "bridge": bridge,
        "rootfs": str(rootfs),
        "layers": [],  # the bare image: the layers' own tests boot from them
        "state_root": str(work / "state"),
        "admin_user": ADMIN_USER,
        "admin_public_key": key.public,
        "dns_domain": f"{STACK}.internal",
    }


@dataclass
class Booted:
    props: dict[str, Any]
    outs: dict[str, Any]
    known_hosts: Path
    key: Key
    create_seconds: float

    @property
    def name(self) -> str:
        return str(self.props["name"])

    @property
    def state_dir(self) -> Path:
        return Path(self.outs["state_dir"])

    def ssh(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return ssh(self.props["address"], self.known_hosts, self.key, *command, timeout=timeout)


def ssh(
    address: str, known_hosts: Path, key: Key, *command: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return sh(
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        str(key.private),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=3",
        f"{ADMIN_USER}@{address}",
        *command,
        check=False,
        timeout=timeout,
    )


def pin_host_key(path: Path, address: str, public_key: str) -> Path:
    kind, blob = public_key.split()[:2]
    path.write_text(f"{address} {kind} {blob}\n")
    return path


@pytest.fixture(scope="module")
def machines(bridge: str, rootfs: Path, work: Path, admin_key: Key) -> Iterator[dict[str, Booted]]:
    """Both machines, created in parallel as Pulumi would; deleted whatever happens."""
    provider = MachineProvider()
    props = {
        name: machine_props(name, address, rootfs, work, admin_key, bridge)
        for name, address in MACHINES.items()
    }
    booted: dict[str, Booted] = {}
    errors: list[BaseException] = []

    def create(name: str) -> None:
        started = time.monotonic()
        try:
            result = provider.create(dict(props[name]))
        except BaseException as error:
            errors.append(error)
            return
        assert result.outs is not None
        known_hosts = pin_host_key(
            work / f"{name}.known_hosts",
            props[name]["address"],
            result.outs["ssh_host_ed25519_public_key"],
        )
        booted[name] = Booted(
            props[name], result.outs, known_hosts, admin_key, time.monotonic() - started
        )

    threads = [threading.Thread(target=create, args=(name,)) for name in MACHINES]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        for one in booted.values():
            print(f"\n{one.name}: create() took {one.create_seconds:.2f} s")
        yield booted
    finally:
        for name in MACHINES:
            provider.delete(f"{STACK}:{name}", dict(props[name]))


# --- what must not be left -------------------------------------------------------------


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            argv = " ".join(sv.cmdline(int(entry.name)))
            if text in argv:
                found.append(f"{entry.name}: {argv}")
    return found


def leftovers(name: str, state_root: Path) -> dict[str, list[str]]:
    found = {
        "processes": processes_mentioning(name),
        "mounts": [str(p) for p in overlay.mounts_under(state_root)],
        "cgroups": [str(p) for p in cgroups.existing_groups() if name in p.name],
        "state dirs": [str(p) for p in state_root.glob(f"*/machines/{name}")],
        "nspawn runtime": [str(p) for p in sv.NSPAWN_RUNTIME.glob("propagate/*") if p.name == name],
    }
    return {kind: items for kind, items in found.items() if items}


def memory_kb(name: str) -> tuple[int, int, int]:
    """(RSS, PSS, process count) of every process in the machine's cgroups."""
    rss = pss = count = 0
    for pid in cgroups.pids(name):
        with contextlib.suppress(OSError):
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            fields = dict(re.findall(r"^(\w+):\s+(\d+) kB", rollup, re.MULTILINE))
            rss += int(fields["Rss"])
            pss += int(fields["Pss"])
            count += 1
    return rss, pss, count


def boot_id(one: Booted) -> str:
    return one.ssh("cat", "/proc/sys/kernel/random/boot_id").stdout.strip()


# --- the provider, called directly -----------------------------------------------------


def test_create_returns_running_machines_with_their_identity(
    machines: dict[str, Booted],
) -> None:
    for one in machines.values():
        assert one.outs["running"] is True, one.name
        assert re.fullmatch(r"[0-9a-f]{32}", one.outs["machine_id"]), one.outs
        assert one.outs["ssh_host_ed25519_public_key"].startswith("ssh-ed25519 "), one.outs
        assert {k: one.outs[k] for k in inputs.INPUT_KEYS} == one.props


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_admin_logs_in_over_ssh_with_the_pinned_host_key(
    machines: dict[str, Booted], name: str
) -> None:
    result = machines[name].ssh("systemctl", "is-system-running", "--wait")
    assert result.stdout.strip() in ("running", "degraded"), result
    if result.stdout.strip() == "degraded":
        print(machines[name].ssh("systemctl", "--failed", "--no-pager").stdout)


def test_ssh_refuses_a_host_key_that_is_not_pinned(machines: dict[str, Booted], work: Path) -> None:
    a, b = machines["rstest-machine-a"], machines["rstest-machine-b"]
    wrong = pin_host_key(
        work / "wrong.known_hosts", a.props["address"], b.outs["ssh_host_ed25519_public_key"]
    )
    result = ssh(a.props["address"], wrong, a.key, "true")
    assert result.returncode == 255 and "HOST IDENTIFICATION HAS CHANGED" in result.stderr, result


def test_machines_have_their_own_hostname_and_machine_id(machines: dict[str, Booted]) -> None:
    seen = {}
    for name, one in machines.items():
        hostname = one.ssh("hostnamectl", "--static").stdout.strip()
        machine_id = one.ssh("cat", "/etc/machine-id").stdout.strip()
        assert (hostname, machine_id) == (name, one.outs["machine_id"])
        seen[name] = (hostname, machine_id)
    a, b = seen.values()
    assert a[0] != b[0] and a[1] != b[1], seen


def test_guest_network_and_resolver(machines: dict[str, Booted]) -> None:
    one = machines["rstest-machine-a"]
    route = one.ssh("ip", "-4", "route", "show", "default").stdout
    assert f"default via {GATEWAY} dev host0" in route, route
    assert (
        one.ssh("cat", "/etc/resolv.conf").stdout
        == f"nameserver {GATEWAY}\nsearch rstest.internal\n"
    )
    assert one.ssh("sudo", "-n", "id", "-u").stdout.strip() == "0"


def test_each_machine_runs_in_its_own_cgroups(machines: dict[str, Booted]) -> None:
    for name, one in machines.items():
        leader = sv.verified_leader(one.state_dir, name)
        assert leader is not None, name
        groups = Path(f"/proc/{leader}/cgroup").read_text()
        assert f"name=systemd:/regionstack-{name}/payload/" in groups, groups
        assert f"0::/regionstack-{name}/payload/" in groups, groups


def test_memory_of_an_idle_machine(machines: dict[str, Booted]) -> None:
    """A measurement for the docs (RSS double-counts shared pages; PSS splits them)."""
    time.sleep(5)  # let the boot settle
    for name in machines:
        rss, pss, count = memory_kb(name)
        print(f"\n{name}: {count} processes, RSS {rss / 1024:.1f} MiB, PSS {pss / 1024:.1f} MiB")
        assert 0 < pss < 200 * 1024, (name, rss, pss)


def test_read_reports_running_and_no_drift(machines: dict[str, Booted]) -> None:
    provider = MachineProvider()
    for name, one in machines.items():
        result = provider.read(f"{STACK}:{name}", dict(one.outs))
        assert result.id == f"{STACK}:{name}"
        assert result.inputs == one.props
        assert result.outs == one.outs
        assert provider.diff(result.id, result.outs, dict(one.props)).changes is False


def test_guest_reboot_comes_back(machines: dict[str, Booted]) -> None:
    one = machines["rstest-machine-b"]
    before_boot, before_nspawn = boot_id(one), sv.verified_nspawn(one.state_dir, one.name)
    supervisor = sv.verified_supervisor(one.state_dir)
    started = time.monotonic()
    one.ssh("sudo", "systemctl", "reboot")  # the connection may drop before it answers

    def back() -> bool:
        current = boot_id(one)
        return bool(current) and current != before_boot

    wait_for(f"{one.name} back after reboot", back, COME_BACK_S)
    print(f"\n{one.name}: ssh again {time.monotonic() - started:.2f} s after `systemctl reboot`")
    assert sv.verified_supervisor(one.state_dir) == supervisor  # the same supervisor...
    assert sv.verified_nspawn(one.state_dir, one.name) not in (None, before_nspawn)  # new nspawn
    console = (one.state_dir / sv.CONSOLE_LOG).read_text()
    assert "exit code 133 (guest rebooted); the guest rebooted: starting it again" in console
    assert one.ssh("cat", "/etc/machine-id").stdout.strip() == one.outs["machine_id"]


def test_guest_crash_is_restarted_by_the_supervisor(machines: dict[str, Booted]) -> None:
    """The guest's PID 1 killed (a guest kernel panic, as near as a container gets)."""
    one = machines["rstest-machine-b"]
    before = boot_id(one)
    leader = sv.verified_leader(one.state_dir, one.name)
    assert leader is not None
    os.kill(leader, signal.SIGKILL)

    def back() -> bool:
        current = boot_id(one)
        return bool(current) and current != before

    seconds = wait_for(f"{one.name} back after its init was killed", back, COME_BACK_S)
    print(f"\n{one.name}: ssh again {seconds:.2f} s after its PID 1 was killed")
    console = (one.state_dir / sv.CONSOLE_LOG).read_text()
    assert "the machine stopped unexpectedly: restarting in 1 s" in console, console[-2000:]


def test_killed_nspawn_is_drift_that_update_repairs(machines: dict[str, Booted]) -> None:
    one, provider = machines["rstest-machine-a"], MachineProvider()
    resource_id = f"{STACK}:{one.name}"
    nspawn = sv.verified_nspawn(one.state_dir, one.name)
    assert nspawn is not None
    os.kill(nspawn, signal.SIGKILL)

    def down() -> bool:
        outs = provider.read(resource_id, dict(one.outs)).outs
        return outs is not None and outs["running"] is False

    wait_for(f"{one.name} reported down", down, 10)
    wait_for("the supervisor to exit", lambda: sv.verified_supervisor(one.state_dir) is None, 10)
    # The orphaned guest (a killed nspawn leaves it running) goes with the supervisor.
    wait_for("the machine's cgroups to empty", lambda: not cgroups.live_pids(one.name), 10)
    refreshed = provider.read(resource_id, dict(one.outs))
    assert refreshed.outs is not None
    diff = provider.diff(resource_id, refreshed.outs, dict(one.props))
    assert (diff.changes, diff.replaces) == (True, [])

    started = time.monotonic()
    updated = provider.update(resource_id, refreshed.outs, dict(one.props))
    print(f"\n{one.name}: update() powered it on, ssh in {time.monotonic() - started:.2f} s")
    assert updated.outs is not None and updated.outs["running"] is True
    # The same host, powered back on: identity and disk kept.
    for key in ("machine_id", "ssh_host_ed25519_public_key"):
        assert updated.outs[key] == one.outs[key], key
    assert one.ssh("systemctl", "is-system-running", "--wait").stdout.strip() in (
        "running",
        "degraded",
    )


def test_controller_power_cut_is_repaired(machines: dict[str, Booted]) -> None:
    """What a controller reboot leaves: the state dir, and no process, mount or cgroup."""
    one, provider = machines["rstest-machine-a"], MachineProvider()
    resource_id = f"{STACK}:{one.name}"
    supervisor = sv.verified_supervisor(one.state_dir)
    assert supervisor is not None
    runtime_files = sv.nspawn_runtime_files(one.name, one.state_dir / "merged")  # on /run
    os.kill(supervisor, signal.SIGKILL)
    assert cgroups.kill_all(one.name) == set()
    overlay.unmount_all(one.state_dir)
    assert cgroups.remove(one.name) == []
    sv.remove_runtime_files(runtime_files)

    refreshed = provider.read(resource_id, dict(one.outs))
    assert refreshed.outs is not None and refreshed.outs["running"] is False
    updated = provider.update(resource_id, refreshed.outs, dict(one.props))
    assert updated.outs is not None and updated.outs["running"] is True
    assert updated.outs["machine_id"] == one.outs["machine_id"]
    assert one.ssh("cat", "/etc/machine-id").stdout.strip() == one.outs["machine_id"]


def test_update_rotates_the_admin_key(machines: dict[str, Booted], work: Path) -> None:
    one, provider = machines["rstest-machine-b"], MachineProvider()
    new_key = make_key(work, "rotated")
    news = {**one.props, "admin_public_key": new_key.public}
    assert provider.diff("id", dict(one.outs), news).replaces == []
    updated = provider.update(f"{STACK}:{one.name}", dict(one.outs), news)
    assert updated.outs is not None and updated.outs["running"] is True
    address = one.props["address"]
    assert ssh(address, one.known_hosts, new_key, "true").returncode == 0
    assert ssh(address, one.known_hosts, one.key, "true").returncode == 255


def test_delete_leaves_nothing(machines: dict[str, Booted], work: Path) -> None:
    provider = MachineProvider()
    # nspawn's image lock is named by the mounted overlay's inode: find it while mounted.
    runtime_files = [
        path
        for one in machines.values()
        for path in sv.nspawn_runtime_files(one.name, one.state_dir / "merged")
    ]
    assert all(path.exists() for path in runtime_files), runtime_files
    started = time.monotonic()
    for name, one in machines.items():
        provider.delete(f"{STACK}:{name}", dict(one.outs))
    print(f"\ndelete() of both machines took {time.monotonic() - started:.2f} s")
    for name, one in machines.items():
        assert leftovers(name, work / "state") == {}, name
        provider.delete(f"{STACK}:{name}", dict(one.outs))  # idempotent
        assert provider.read(f"{STACK}:{name}", dict(one.outs)).id == ""
    ports = {port_name(STACK, name) for name in machines}
    links = sh("ip", "-o", "link").stdout.splitlines()
    assert not [line for line in links if any(port in line for port in ports)]
    assert [path for path in runtime_files if path.exists()] == []


def test_failed_create_undoes_everything(
    bridge: str,
    rootfs: Path,
    work: Path,
    admin_key: Key,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A boot that misses its deadline: the error shows the logs, nothing stays behind."""
    monkeypatch.setattr(power, "BOOT_TIMEOUT_S", 0.2)
    name, address = UNDONE_MACHINE
    props = machine_props(name, address, rootfs, work, admin_key, bridge)
    with pytest.raises(MachineError) as raised:
        MachineProvider().create(props)
    message = str(raised.value)
    assert "did not answer ssh" in message, message
    assert f"--- last lines of {work}/state/{STACK}/machines/{name}/console.log ---" in message
    assert "starting: systemd-nspawn --boot" in message or "[  OK  ]" in message, message
    assert "--- last lines of the guest's journal ---" in message, message
    assert leftovers(name, work / "state") == {}


# --- through the Pulumi engine ---------------------------------------------------------


def pulumi_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    if shutil.which("pulumi") is None:
        current = Path.home() / ".cache/regionstack/toolchain/current"
        if not current.is_file():
            pytest.fail("no Pulumi toolchain: run scripts/setup.sh")
        env["PATH"] = f"{current.read_text().strip()}{os.pathsep}{env['PATH']}"
    env.update(
        PULUMI_BACKEND_URL=f"file://{home / 'backend'}",
        PULUMI_HOME=str(home / "pulumi-home"),
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_CONFIG_PASSPHRASE="x",
    )
    (home / "backend").mkdir()
    return env


PROGRAM = """\
import json

import pulumi

from modules.local.machine import Machine, MachineInputs

inputs = json.loads({props!r})
machine = Machine(inputs["name"], MachineInputs(**inputs))
pulumi.export("running", machine.running)
pulumi.export("state_dir", machine.state_dir)
"""


def test_machine_lifecycle_through_the_pulumi_engine(
    bridge: str, rootfs: Path, work: Path, admin_key: Key, tmp_path: Path
) -> None:
    name, address = PULUMI_MACHINE
    props = machine_props(name, address, rootfs, work, admin_key, bridge)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        textwrap.dedent(f"""\
            name: rstest-machine
            runtime:
              name: python
              options:
                virtualenv: {ROOT / ".venv"}
            """)
    )
    (project / "__main__.py").write_text(PROGRAM.format(props=json.dumps(props)))
    env = pulumi_env(tmp_path)

    def pulumi(*args: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(
            ["pulumi", "--non-interactive", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        print(f"pulumi {' '.join(args)}: {time.monotonic() - started:.1f} s")
        if result.returncode != 0:
            pytest.fail(f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def output(key: str) -> Any:
        return json.loads(pulumi("stack", "output", "--json").stdout)[key]

    def machine_state() -> dict[str, Any]:
        state = json.loads(pulumi("stack", "export").stdout)
        resources = state["deployment"]["resources"]
        return dict(next(r["outputs"] for r in resources if r["type"].endswith(":Machine")))

    pulumi("stack", "init", "e2e")
    try:
        pulumi("up", "--yes", "--skip-preview")
        assert output("running") is True
        state_dir = Path(output("state_dir"))
        pulumi("up", "--yes", "--expect-no-changes")
        pulumi("refresh", "--yes", "--expect-no-changes")  # read gives back the inputs

        nspawn = sv.verified_nspawn(state_dir, name)
        assert nspawn is not None
        os.kill(nspawn, signal.SIGKILL)
        wait_for("the supervisor to exit", lambda: sv.verified_supervisor(state_dir) is None, 10)
        refreshed = pulumi("refresh", "--yes", "--diff")
        assert re.search(r"running\s*:\s*true\s*=>\s*false", refreshed.stdout), refreshed.stdout
        assert machine_state()["running"] is False  # stack outputs change only on `up`
        preview = pulumi("preview", "--diff")
        assert "~ 1 to update" in preview.stdout or "1 to update" in preview.stdout, preview.stdout

        pulumi("up", "--yes", "--skip-preview")
        assert output("running") is True
        pulumi("up", "--yes", "--expect-no-changes")
    finally:
        try:
            pulumi("destroy", "--yes", "--skip-preview")
            pulumi("stack", "rm", "--yes", "e2e")
        finally:
            MachineProvider().delete(f"{STACK}:{name}", props)  # a no-op after a good destroy
    assert leftovers(name, work / "state") == {}
