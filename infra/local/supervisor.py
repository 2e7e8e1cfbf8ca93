"""The supervisor of one local machine: `python -m infra.local.supervisor <state_dir>`.

It is to a machine what a hypervisor process is to a VM. The Machine resource starts it
once per power-on; it daemonizes (the resource's process is gone long before the machine
is), moves itself into the machine's cgroups (infra/local/cgroups.py), and runs
`systemd-nspawn --boot` on the machine's overlay until the guest powers off:

- exit code 133 means the guest rebooted: start nspawn again at once;
- exit code 0 means the guest powered off: stop;
- SIGTERM to the supervisor is forwarded to nspawn, which asks the guest for an orderly
  poweroff; after STOP_TIMEOUT_S nspawn is killed;
- nspawn killed by SIGKILL (an operator, the OOM killer): stop and leave the machine down.
  Like a VM whose hypervisor process was killed, it stays off until `pulumi up` powers it
  on; `pulumi refresh` shows it as `running: false` meanwhile;
- any other exit is a crash: restart after a growing delay, and give up (saying why) when
  MAX_FAST_RUNS runs in a row each ended within FAST_RUN_S.

Whenever nspawn has exited, the supervisor kills whatever is left in the machine's cgroups
before it starts nspawn again or exits: a killed nspawn leaves its guest running, orphaned.

The network: nspawn gives the guest a private network namespace and nothing else; once the
guest's PID 1 exists the supervisor creates the veth pair itself - the bridge port named
by infra/local/ports.py on the controller, `host0` with the host's pinned MAC in the guest -
and attaches the port to the region bridge. nspawn's own `--network-bridge` names its port
`vb-<machine>` cut to 15 characters and gives the guest a MAC of its choosing; the region's
firewall binds each port to its host's address and MAC, so both must be known from the
plan. The pair lives in the guest's namespace and goes with it.

Files in the state dir: `machine.json` (written by the resource: what to run),
`console.log` (the guest's console and the supervisor's own lines), and the pid files
`supervisor.pid`, `nspawn.pid`, `leader.pid` (the guest's PID 1). A pid file alone proves
nothing - pids are recycled - so readers verify each against /proc (`verified_*` below).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import infra
from infra.local import cgroups
from infra.local.ports import guest_mac, port_name
from infra.local.proc import PROC, cmdline, read_pid, status_field, write_pid

MODULE = "infra.local.supervisor"
CONFIG_NAME = "machine.json"
CONSOLE_LOG = "console.log"
SUPERVISOR_PID = "supervisor.pid"
NSPAWN_PID = "nspawn.pid"
LEADER_PID = "leader.pid"
MERGED = "merged"
NSPAWN_RUNTIME = Path("/run/systemd/nspawn")

REBOOT_EXIT_CODE = 133  # systemd-nspawn's exit code when the guest rebooted
STOP_TIMEOUT_S = 30.0  # orderly poweroff of an idle guest takes well under a second
FAST_RUN_S = 30.0  # a run that ends sooner than this (other than by poweroff) is suspect
MAX_FAST_RUNS = 5  # this many suspect runs in a row and the supervisor gives up
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0
LEADER_POLL_S = 0.02
WAIT_POLL_S = 0.25
CONSOLE_LOG_MAX_BYTES = 4 * 1024**2  # rotated once at start: a log per power-on, bounded


@dataclass(frozen=True)
class SupervisorConfig:
    name: str  # the machine name, also the hostname and the cgroup suffix
    stack: str
    bridge: str
    state_dir: Path

    @property
    def merged(self) -> Path:
        return self.state_dir / MERGED

    @property
    def port(self) -> str:
        return port_name(self.stack, self.name)

    @property
    def mac(self) -> str:
        return guest_mac(self.stack, self.name)


def load_config(state_dir: Path) -> SupervisorConfig:
    data = json.loads((state_dir / CONFIG_NAME).read_text())
    return SupervisorConfig(
        name=str(data["name"]),
        stack=str(data["stack"]),
        bridge=str(data["bridge"]),
        state_dir=state_dir,
    )


def nspawn_argv(config: SupervisorConfig) -> list[str]:
    """The nspawn command line; readers recognise nspawn by its `--machine=` argument.

    `--console=read-only`, not `passive`: a passive console is a pty nobody reads, and
    once its buffer is full every write to /dev/console blocks - the guest's PID 1 among
    them (seen here: after a burst of console output systemd hung in n_tty_write, and the
    guest could no longer reboot or log anyone in). Read-only drains the console into
    console.log, which also gives a failed boot's error its most useful lines.
    No `--capability=` or `--system-call-filter=`: the guest's systemd, networkd, sshd
    and journald boot with nspawn's defaults. `--register=no` and `--keep-unit` because
    there is no systemd-machined or host systemd to talk to. `--private-network`: the
    supervisor adds the guest's link itself (`port_argvs`).
    """
    return [
        "systemd-nspawn",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--private-network",
        "--console=read-only",
        f"--directory={config.merged}",
        f"--machine={config.name}",
    ]


def port_argvs(config: SupervisorConfig, leader: int) -> list[list[str]]:
    """The `ip` commands that give the guest whose PID 1 is `leader` its link: a veth
    pair, the port on the controller and `host0` with the pinned MAC in the guest, then the
    port on the region bridge, brought up once it is there."""
    return [
        [
            *("ip", "link", "add", config.port, "type", "veth"),
            *("peer", "name", "host0", "address", config.mac, "netns", str(leader)),
        ],
        ["ip", "link", "set", config.port, "master", config.bridge],
        ["ip", "link", "set", config.port, "up"],
    ]


def attach_port(config: SupervisorConfig, leader: int) -> str | None:
    """Create and attach the guest's link; the error, or None when it worked.

    A port of the same name is deleted first: it can only be this machine's (the name is
    a hash of stack and machine), left by a guest whose namespace the kernel has not
    finished tearing down - namespaces are freed asynchronously, after a reboot too.
    """
    subprocess.run(["ip", "link", "del", config.port], capture_output=True, check=False)
    for argv in port_argvs(config, leader):
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            return f"{' '.join(argv)}: {result.stderr.strip()}"
    return None


# --- processes and pid files ---------------------------------------------------------


def is_supervisor(argv: Sequence[str], state_dir: Path) -> bool:
    return MODULE in argv and str(state_dir) in argv


def is_nspawn(argv: Sequence[str], name: str) -> bool:
    return bool(argv) and Path(argv[0]).name == "systemd-nspawn" and f"--machine={name}" in argv


def verified_supervisor(state_dir: Path, proc: Path = PROC) -> int | None:
    pid = read_pid(state_dir / SUPERVISOR_PID)
    return pid if pid and is_supervisor(cmdline(pid, proc), state_dir) else None


def verified_nspawn(state_dir: Path, name: str, proc: Path = PROC) -> int | None:
    pid = read_pid(state_dir / NSPAWN_PID)
    return pid if pid and is_nspawn(cmdline(pid, proc), name) else None


def is_leader_of(pid: int, nspawn_pid: int, proc: Path = PROC) -> bool:
    """The guest's PID 1: a live child of this nspawn that is pid 1 in its own namespace."""
    nspid = (status_field(pid, "NSpid", proc) or "").split()
    return (
        bool(cmdline(pid, proc))
        and status_field(pid, "PPid", proc) == str(nspawn_pid)
        and len(nspid) > 1
        and nspid[-1] == "1"
    )


def verified_leader(state_dir: Path, name: str, proc: Path = PROC) -> int | None:
    """The guest's PID 1, when the pid files name a live nspawn of this machine and its
    live container init; a recycled pid in either file never counts."""
    nspawn = verified_nspawn(state_dir, name, proc)
    pid = read_pid(state_dir / LEADER_PID)
    return pid if nspawn and pid and is_leader_of(pid, nspawn, proc) else None


def find_leader(nspawn_pid: int, proc: Path = PROC) -> int | None:
    try:
        children = (proc / str(nspawn_pid) / "task" / str(nspawn_pid) / "children").read_text()
    except OSError:
        return None
    return next((int(c) for c in children.split() if is_leader_of(int(c), nspawn_pid, proc)), None)


def nspawn_runtime_files(name: str, merged: Path) -> list[Path]:
    """What nspawn keeps on the controller while it runs and leaves behind when killed:
    its propagation dir (named by the machine) and its image lock (named by the device and
    inode of the mounted root, so found only while the overlay is mounted)."""
    paths = [NSPAWN_RUNTIME / "propagate" / name]
    with contextlib.suppress(OSError):
        st = merged.stat()
        paths.append(NSPAWN_RUNTIME / "locks" / f"inode-{st.st_dev}:{st.st_ino}")
    return paths


def remove_runtime_files(paths: Sequence[Path]) -> None:
    """Remove nspawn's leftovers; only call once no nspawn of the machine runs."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# --- the restart policy --------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    started: float  # monotonic seconds
    ended: float
    exit_code: int  # Popen.returncode: negative for a signal

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Decision:
    restart: bool
    delay: float
    reason: str


def describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    if code == REBOOT_EXIT_CODE:
        return f"exit code {code} (guest rebooted)"
    return f"exit code {code}"


def decide(runs: Sequence[Run], stop_requested: bool) -> Decision:
    """What to do after the last of `runs` ended. Pure, so the policy is unit-tested."""
    last = runs[-1]
    how = describe_exit(last.exit_code)
    if stop_requested:
        return Decision(False, 0.0, f"stopped on request; systemd-nspawn {how}")
    if last.exit_code == 0:
        return Decision(False, 0.0, "the guest powered off")
    if last.exit_code == -signal.SIGKILL:
        return Decision(False, 0.0, "the machine stays down until `pulumi up` powers it on")
    fast = 0  # runs in a row that ended soon: a reboot loop counts as much as a crash loop
    crashes = 0  # of those, the ones that were not reboots: they set the delay
    for run in reversed(runs):
        if run.seconds >= FAST_RUN_S or run.exit_code == 0:
            break
        fast += 1
        crashes += run.exit_code != REBOOT_EXIT_CODE
    if fast >= MAX_FAST_RUNS:
        return Decision(
            False,
            0.0,
            f"giving up: {fast} runs in a row ended within {FAST_RUN_S:.0f} s "
            f"(last: {how}); see the lines above",
        )
    if last.exit_code == REBOOT_EXIT_CODE:
        return Decision(True, 0.0, "the guest rebooted: starting it again")
    delay = min(BACKOFF_BASE_S * 2 ** max(crashes - 1, 0), BACKOFF_MAX_S)
    return Decision(True, delay, f"the machine stopped unexpectedly: restarting in {delay:.0f} s")


# --- the daemon ----------------------------------------------------------------------


def log(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    print(f"[regionstack-supervisor {stamp}] {message}", file=sys.stderr, flush=True)


def _daemonize(console_log: Path) -> int:
    """Double fork into a new session; returns the write end of the readiness pipe.

    The process that was started waits on that pipe and exits 0 once the daemon reports
    `ok` (pid file written, cgroups joined), or 1 with the daemon's error on its stderr,
    so the resource knows at once whether the supervisor is up.
    """
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            report = pipe.read().decode(errors="replace")
        if report.startswith("ok"):
            os._exit(0)
        sys.stderr.write(report or "the supervisor died before reporting\n")
        sys.stderr.flush()
        os._exit(1)
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    os.umask(0o022)
    with contextlib.suppress(OSError):
        if console_log.stat().st_size > CONSOLE_LOG_MAX_BYTES:
            os.replace(console_log, console_log.with_name(f"{console_log.name}.1"))
    null = os.open(os.devnull, os.O_RDONLY)
    log_fd = os.open(console_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(null)
    os.close(log_fd)
    return write_end


class Supervisor:
    def __init__(self, config: SupervisorConfig) -> None:
        self.config = config
        self.child: subprocess.Popen[bytes] | None = None
        self.stop_requested = False
        self.stop_deadline = 0.0

    def on_stop_signal(self, _signum: int, _frame: FrameType | None) -> None:
        # No logging here: a handler that prints may interrupt a print of the main loop.
        self.stop_requested = True
        self.stop_deadline = time.monotonic() + STOP_TIMEOUT_S
        self._forward_stop()

    def _forward_stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def _pid_file(self, name: str) -> Path:
        return self.config.state_dir / name

    def _clear_leftovers(self, runtime_files: Sequence[Path]) -> None:
        """Kill what the last nspawn left in the machine's cgroups (a killed nspawn leaves
        its guest running) and remove its runtime files."""
        survivors = cgroups.kill_all(self.config.name, exclude={os.getpid()})
        if survivors:
            log(f"processes survived SIGKILL in the machine's cgroups: {sorted(survivors)}")
        remove_runtime_files(runtime_files)

    def _run_once(self) -> Run:
        started = time.monotonic()
        self.child = subprocess.Popen(nspawn_argv(self.config), stdin=subprocess.DEVNULL)
        write_pid(self._pid_file(NSPAWN_PID), self.child.pid)
        if self.stop_requested:  # the signal came while nspawn was being started
            self._forward_stop()
        leader: int | None = None
        stop_noticed = killed = False
        while True:
            try:
                code = self.child.wait(LEADER_POLL_S if leader is None else WAIT_POLL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            if leader is None and (leader := find_leader(self.child.pid)) is not None:
                write_pid(self._pid_file(LEADER_PID), leader)
                error = attach_port(self.config, leader)
                if error:
                    # A guest without its link would pass for running: power it off, so
                    # the Machine resource fails with this line in its console tail.
                    log(f"cannot attach the guest to {self.config.bridge}: {error}")
                    self._forward_stop()
                else:
                    log(f"port {self.config.port} on {self.config.bridge}, {self.config.mac}")
            if self.stop_requested and not stop_noticed:
                stop_noticed = True
                log("stop requested: systemd-nspawn asks the guest to power off")
            if self.stop_requested and not killed and time.monotonic() > self.stop_deadline:
                killed = True
                log(f"no poweroff within {STOP_TIMEOUT_S:.0f} s: killing systemd-nspawn")
                self.child.kill()
        for name in (NSPAWN_PID, LEADER_PID):
            self._pid_file(name).unlink(missing_ok=True)
        return Run(started, time.monotonic(), code)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop_requested and time.monotonic() < deadline:
            time.sleep(min(WAIT_POLL_S, max(deadline - time.monotonic(), 0.0)))

    def run(self) -> int:
        runs: list[Run] = []
        while not self.stop_requested:
            if not os.path.ismount(self.config.merged):
                log(f"{self.config.merged} is not mounted: not starting the guest")
                return 1
            runtime_files = nspawn_runtime_files(self.config.name, self.config.merged)
            self._clear_leftovers(runtime_files)
            log(f"starting: {' '.join(nspawn_argv(self.config))}")
            runs.append(self._run_once())
            self._clear_leftovers(runtime_files)
            decision = decide(runs, self.stop_requested)
            log(f"systemd-nspawn {describe_exit(runs[-1].exit_code)}; {decision.reason}")
            if not decision.restart:
                break
            self._sleep(decision.delay)
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print(f"usage: python -m {MODULE} <state_dir>", file=sys.stderr)
        return 2
    state_dir = Path(args[0])
    config = load_config(state_dir)
    ready = _daemonize(state_dir / CONSOLE_LOG)
    pid_file = state_dir / SUPERVISOR_PID
    try:
        supervisor = Supervisor(config)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, supervisor.on_stop_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        cgroups.join(config.name, os.getpid())
        write_pid(pid_file, os.getpid())
    except Exception as error:
        os.write(ready, f"supervisor of {config.name} failed to start: {error}\n".encode())
        raise
    os.write(ready, b"ok\n")
    os.close(ready)
    log(f"supervising {config.name} (pid {os.getpid()})")
    try:
        return supervisor.run()
    finally:
        if read_pid(pid_file) == os.getpid():
            pid_file.unlink(missing_ok=True)
        log("supervisor exiting")


def launch(state_dir: Path, timeout: float = 30.0) -> None:
    """Start the supervisor of the machine in `state_dir`; return once it runs.

    Used by the Machine resource. The daemon must import `infra` whatever the caller's
    working directory: the repository root (the parent of the `infra` package) is its
    working directory and PYTHONPATH.
    """
    root = Path(infra.__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    started = subprocess.run(
        [sys.executable, "-m", MODULE, str(state_dir)],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        timeout=timeout,
        check=False,
    )
    if started.returncode != 0:
        raise RuntimeError(started.stderr.decode(errors="replace").strip())


if __name__ == "__main__":
    sys.exit(main())
