"""The pure parts of the machine supervisor (infra/local/supervisor.py) and of the machine
cgroups (infra/local/cgroups.py): the nspawn command line, the restart policy, pid files
verified against a fake /proc, and cgroup paths on a fake hierarchy."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from infra.local import cgroups
from infra.local import supervisor as sv
from infra.local.ports import guest_mac, port_name
from infra.local.supervisor import Decision, Run, SupervisorConfig, decide

STATE = Path("/var/lib/regionstack/local/hz/machines/hz-portal-1")
CONFIG = SupervisorConfig(name="hz-portal-1", stack="hz", bridge="rs330100", state_dir=STATE)


# --- the nspawn command line ---------------------------------------------------------


def test_nspawn_argv_boots_the_merged_overlay_in_a_private_network() -> None:
    assert sv.nspawn_argv(CONFIG) == [
        "systemd-nspawn",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--private-network",
        "--console=read-only",
        f"--directory={STATE}/merged",
        "--machine=hz-portal-1",
    ]


def test_nspawn_argv_is_recognised_as_this_machines_nspawn() -> None:
    argv = sv.nspawn_argv(CONFIG)
    assert sv.is_nspawn(argv, "hz-portal-1")
    assert not sv.is_nspawn(argv, "hz-portal-2")
    assert not sv.is_nspawn(["/usr/bin/vim", "--machine=hz-portal-1"], "hz-portal-1")


def test_the_port_and_mac_are_the_ones_the_firewall_binds() -> None:
    assert CONFIG.port == port_name("hz", "hz-portal-1")
    assert CONFIG.mac == guest_mac("hz", "hz-portal-1")


def test_port_argvs_give_the_guest_host0_and_attach_the_port_before_it_goes_up() -> None:
    add, master, up = sv.port_argvs(CONFIG, 4242)
    assert add == [
        *("ip", "link", "add", CONFIG.port, "type", "veth"),
        *("peer", "name", "host0", "address", CONFIG.mac, "netns", "4242"),
    ]
    assert master == ["ip", "link", "set", CONFIG.port, "master", "rs330100"]
    assert up == ["ip", "link", "set", CONFIG.port, "up"]


def test_load_config_reads_the_machine_json(tmp_path: Path) -> None:
    inputs = {"name": "hz-portal-1", "stack": "hz", "bridge": "rs330100", "address": "10.0.0.2"}
    (tmp_path / sv.CONFIG_NAME).write_text(json.dumps(inputs))
    config = sv.load_config(tmp_path)
    assert config == SupervisorConfig("hz-portal-1", "hz", "rs330100", tmp_path)


# --- the restart policy --------------------------------------------------------------


def runs(*codes: int, seconds: float = 1.0) -> list[Run]:
    return [Run(i * 100.0, i * 100.0 + seconds, code) for i, code in enumerate(codes)]


def test_poweroff_stops() -> None:
    assert decide(runs(0), stop_requested=False) == Decision(False, 0.0, "the guest powered off")


def test_reboot_restarts_at_once() -> None:
    decision = decide(runs(sv.REBOOT_EXIT_CODE), stop_requested=False)
    assert (decision.restart, decision.delay) == (True, 0.0), decision


def test_stop_request_wins_over_a_reboot() -> None:
    decision = decide(runs(sv.REBOOT_EXIT_CODE), stop_requested=True)
    assert not decision.restart, decision
    assert "stopped on request" in decision.reason


def test_sigkilled_nspawn_leaves_the_machine_down() -> None:
    decision = decide(runs(-signal.SIGKILL), stop_requested=False)
    assert not decision.restart, decision
    assert "pulumi up" in decision.reason


def test_crashed_nspawn_restarts_after_a_delay() -> None:
    for code in (1, -signal.SIGSEGV):
        decision = decide(runs(code), stop_requested=False)
        assert (decision.restart, decision.delay) == (True, sv.BACKOFF_BASE_S), (code, decision)


def test_fast_crashes_back_off_then_give_up() -> None:
    delays = []
    history: list[Run] = []
    for i in range(sv.MAX_FAST_RUNS):
        history.append(Run(i * 10.0, i * 10.0 + 1.0, 1))
        decision = decide(history, stop_requested=False)
        delays.append(decision.delay if decision.restart else None)
    assert delays == [1.0, 2.0, 4.0, 8.0, None], delays
    assert "giving up: 5 runs in a row" in decide(history, False).reason


def test_a_reboot_does_not_lengthen_the_delay_after_a_crash() -> None:
    decision = decide(runs(sv.REBOOT_EXIT_CODE, 1), stop_requested=False)
    assert (decision.restart, decision.delay) == (True, sv.BACKOFF_BASE_S), decision


def test_backoff_is_capped() -> None:
    history = runs(*[1] * (sv.MAX_FAST_RUNS - 1))
    assert decide(history, False).delay <= sv.BACKOFF_MAX_S


def test_a_long_run_resets_the_crash_count() -> None:
    history = runs(1, 1, 1, 1)
    history.append(Run(1000.0, 1000.0 + sv.FAST_RUN_S + 1, 1))
    decision = decide(history, stop_requested=False)
    assert (decision.restart, decision.delay) == (True, sv.BACKOFF_BASE_S), decision


def test_a_reboot_loop_gives_up_too() -> None:
    decision = decide(runs(*[sv.REBOOT_EXIT_CODE] * sv.MAX_FAST_RUNS), stop_requested=False)
    assert not decision.restart, decision


def test_occasional_reboots_never_give_up() -> None:
    history = runs(*[sv.REBOOT_EXIT_CODE] * 10, seconds=sv.FAST_RUN_S + 1)
    assert decide(history, stop_requested=False).restart


@pytest.mark.parametrize(
    ("code", "text"),
    [(0, "exit code 0"), (133, "exit code 133 (guest rebooted)"), (-9, "killed by SIGKILL")],
)
def test_describe_exit(code: int, text: str) -> None:
    assert sv.describe_exit(code) == text


# --- pid files verified against /proc ------------------------------------------------


def fake_process(
    proc: Path, pid: int, argv: list[str], ppid: int = 1, nspid: str | None = None
) -> None:
    directory = proc / str(pid)
    directory.mkdir(parents=True)
    (directory / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
    status = f"Name:\tx\nPPid:\t{ppid}\nNSpid:\t{nspid or pid}\n"
    (directory / "status").write_text(status)


@pytest.fixture
def machine(tmp_path: Path) -> tuple[Path, Path]:
    """A state dir whose pid files name a supervisor, an nspawn and a guest PID 1."""
    proc, state = tmp_path / "proc", tmp_path / "state"
    state.mkdir()
    fake_process(proc, 100, ["/venv/bin/python", "-m", sv.MODULE, str(state)])
    fake_process(proc, 200, sv.nspawn_argv(SupervisorConfig("m1", "s", "br0", state)), ppid=100)
    fake_process(proc, 300, ["/usr/lib/systemd/systemd"], ppid=200, nspid="300\t1")
    (proc / "200/task/200").mkdir(parents=True)
    (proc / "200/task/200/children").write_text("300 ")
    for name, pid in ((sv.SUPERVISOR_PID, 100), (sv.NSPAWN_PID, 200), (sv.LEADER_PID, 300)):
        sv.write_pid(state / name, pid)
    return proc, state


def test_verified_pids(machine: tuple[Path, Path]) -> None:
    proc, state = machine
    assert sv.verified_supervisor(state, proc) == 100
    assert sv.verified_nspawn(state, "m1", proc) == 200
    assert sv.verified_leader(state, "m1", proc) == 300
    assert sv.find_leader(200, proc) == 300


def test_a_recycled_supervisor_pid_does_not_count(machine: tuple[Path, Path]) -> None:
    proc, state = machine
    (proc / "100/cmdline").write_bytes(b"/usr/bin/sleep\x00100\x00")
    assert sv.verified_supervisor(state, proc) is None


def test_the_supervisor_of_another_machine_does_not_count(machine: tuple[Path, Path]) -> None:
    proc, state = machine
    (proc / "100/cmdline").write_bytes(f"python\0-m\0{sv.MODULE}\0{state}-other\0".encode())
    assert sv.verified_supervisor(state, proc) is None


def test_an_nspawn_of_another_machine_does_not_count(machine: tuple[Path, Path]) -> None:
    proc, state = machine
    assert sv.verified_nspawn(state, "m2", proc) is None
    assert sv.verified_leader(state, "m2", proc) is None


def test_a_zombie_counts_as_gone(machine: tuple[Path, Path]) -> None:
    proc, state = machine
    (proc / "300/cmdline").write_bytes(b"")
    assert sv.verified_leader(state, "m1", proc) is None


def test_an_orphaned_guest_is_not_running(machine: tuple[Path, Path]) -> None:
    """A killed nspawn leaves its guest running with PPid 1: not a running machine."""
    proc, state = machine
    (proc / "300/status").write_text("PPid:\t1\nNSpid:\t300\t1\n")
    assert sv.verified_leader(state, "m1", proc) is None


def test_a_child_that_is_not_pid_1_of_its_namespace_is_not_the_leader(
    machine: tuple[Path, Path],
) -> None:
    proc, state = machine
    (proc / "300/status").write_text("PPid:\t200\nNSpid:\t300\n")
    assert sv.verified_leader(state, "m1", proc) is None
    assert sv.find_leader(200, proc) is None


def test_missing_or_garbled_pid_files(tmp_path: Path) -> None:
    assert sv.read_pid(tmp_path / "none.pid") is None
    (tmp_path / "bad.pid").write_text("twelve\n")
    assert sv.read_pid(tmp_path / "bad.pid") is None
    (tmp_path / "zero.pid").write_text("0\n")
    assert sv.read_pid(tmp_path / "zero.pid") is None


def test_runtime_files_are_named_by_machine_and_mounted_inode(tmp_path: Path) -> None:
    st = tmp_path.stat()
    assert sv.nspawn_runtime_files("m1", tmp_path) == [
        sv.NSPAWN_RUNTIME / "propagate/m1",
        sv.NSPAWN_RUNTIME / f"locks/inode-{st.st_dev}:{st.st_ino}",
    ]
    assert sv.nspawn_runtime_files("m1", tmp_path / "absent") == [
        sv.NSPAWN_RUNTIME / "propagate/m1"
    ]


# --- cgroups -------------------------------------------------------------------------

HYBRID_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
"""


def test_hybrid_host_needs_the_named_and_the_unified_hierarchy() -> None:
    assert cgroups.hierarchies_from_mounts(HYBRID_MOUNTS) == (
        Path("/sys/fs/cgroup/systemd"),
        Path("/sys/fs/cgroup/unified"),
    )


def test_unified_host_needs_one_hierarchy() -> None:
    mounts = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec 0 0\n"
    assert cgroups.hierarchies_from_mounts(mounts) == (Path("/sys/fs/cgroup"),)


def test_group_paths() -> None:
    roots = (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"))
    assert cgroups.group_paths("hz-portal-1", roots) == (
        Path("/sys/fs/cgroup/systemd/regionstack-hz-portal-1"),
        Path("/sys/fs/cgroup/unified/regionstack-hz-portal-1"),
    )


def test_join_creates_the_groups_and_lists_the_pid(tmp_path: Path) -> None:
    roots = (tmp_path / "systemd", tmp_path / "unified")
    for root in roots:
        root.mkdir()
    paths = cgroups.join("m1", 4242, roots)
    assert [(p / "cgroup.procs").read_text() for p in paths] == ["4242\n", "4242\n"]
    assert cgroups.pids("m1", roots) == {4242}
    assert cgroups.existing_groups(roots) == sorted(paths)


def test_remove_goes_depth_first(tmp_path: Path) -> None:
    roots = (tmp_path / "systemd", tmp_path / "unified")
    for root in roots:
        for sub in ("payload/init.scope", "payload/system.slice/ssh.service", "supervisor"):
            (root / "regionstack-m1" / sub).mkdir(parents=True)
    assert cgroups.remove("m1", roots, timeout=0) == []
    assert cgroups.existing_groups(roots) == []
    assert cgroups.remove("m1", roots, timeout=0) == []  # idempotent
