"""The local target for real: the three sample regions up, reachable, obeying the flow
matrix, surviving a reboot and a killed machine, and leaving nothing behind.

The steps run in file order and share one deployment (module-scoped fixture): up → SSH to
every host → allowed flows connect, denied ones do not (real TCP between real hosts) →
reboot a guest → kill a machine, `pulumi refresh` reports it, `pulumi up` repairs it →
`pulumi destroy` → nothing is left on the controller.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from infra import pki
from infra.local.firewall_rules import allowed_flows, denied_samples, standard_ports
from tests.e2e.local.hierarchy import (
    FLEET,
    PLANS,
    STACKS,
    Deployment,
    all_hosts,
    deployed_hierarchy,
    leftovers,
)

PORTS = standard_ports(FLEET.standard)
CONNECT_TIMEOUT_S = 2.0

LISTENER = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.close()
for p in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(p),)).start()
"""

PROBE = """
import json, socket, sys, concurrent.futures as cf
targets = json.loads(sys.argv[1])
def attempt(t):
    try:
        socket.create_connection((t[0], t[1]), timeout=float(sys.argv[2])).close(); return True
    except OSError:
        return False
with cf.ThreadPoolExecutor(64) as pool:
    print(json.dumps([[t[0], t[1], ok] for t, ok in zip(targets, pool.map(attempt, targets))]))
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    # This suite proves the local target itself (machines, network, firewall, faults); the
    # roles are proven on configured regions (tests/e2e/local/configured).
    with deployed_hierarchy(tmp_path_factory, configure=False) as deployment:
        yield deployment


def test_admin_private_key_is_a_secret_output(deployment: Deployment) -> None:
    shown = deployment.project.run(
        "stack", "output", "--stack", "chunan", "admin_private_key"
    ).stdout
    assert shown.strip() == "[secret]", shown
    state = deployment.project.run("stack", "export", "--stack", "chunan").stdout
    assert "BEGIN OPENSSH PRIVATE KEY" not in state, "the private key is stored in the clear"


@pytest.mark.parametrize("kind", ["server", "client"])
def test_county_certificates_chain_to_the_province_root(deployment: Deployment, kind: str) -> None:
    """The county's CA came from the city's stack, whose CA came from the province's."""
    county = deployment.project.outputs("chunan")
    province = deployment.project.outputs("zhejiang")
    for host, tls in county["tls"].items():
        root_pem = pki.load_certificates(province["tls"]["zhejiang-portal-1"]["ca_pem"])[-1]
        path = pki.verify_chain(
            tls[f"{kind}_cert_pem"], tls["ca_pem"], pki.cert_to_pem(root_pem), kind=kind
        )
        assert len(path) == 4, (host, [c.subject.rfc4514_string() for c in path])


@pytest.mark.parametrize("stack", STACKS)
def test_second_up_changes_nothing(deployment: Deployment, stack: str) -> None:
    result = deployment.project.run(
        "up", "--stack", stack, "--yes", "--expect-no-changes", check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("stack", "address"), all_hosts())
def test_host_is_reachable_as_admin_and_running(
    deployment: Deployment, stack: str, address: str
) -> None:
    result = deployment.ssh(address, "systemctl is-system-running --wait")
    failed = deployment.ssh(address, "systemctl --failed --no-legend").stdout
    assert result.stdout.strip() == "running", (
        f"{stack} {address}: {result.stdout}{result.stderr}\nfailed: {failed}"
    )


@pytest.mark.parametrize(("stack", "address"), all_hosts())
def test_password_and_root_logins_are_refused(
    deployment: Deployment, stack: str, address: str
) -> None:
    result = subprocess.run(
        [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "ConnectTimeout=5",
            f"root@{address}",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "Permission denied" in result.stderr, result.stderr


@pytest.fixture(scope="module")
def reachability(deployment: Deployment) -> dict[tuple[str, str, int], bool]:
    """Real TCP connection attempts from every source to every destination port.

    Listeners run on every host and on the gateways for every port the standard knows, so
    a refused connection proves the firewall, not an empty port.
    """
    gateway_listeners = []
    for plan in PLANS.values():
        for port in PORTS:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((plan.gateway, port))
            sock.listen(64)
            gateway_listeners.append(sock)
    stop = threading.Event()

    def accept_loop(sock: socket.socket) -> None:
        sock.settimeout(0.5)
        while not stop.is_set():
            try:
                sock.accept()[0].close()
            except OSError:
                continue

    threads = [
        threading.Thread(target=accept_loop, args=(s,), daemon=True) for s in gateway_listeners
    ]
    for thread in threads:
        thread.start()
    for _stack, address in all_hosts():
        ports = " ".join(str(p) for p in PORTS if p != 22)
        command = f"cat > /tmp/listen.py && sudo -n sh -c 'nohup python3 /tmp/listen.py {ports} >/dev/null 2>&1 </dev/null &'"
        result = deployment.ssh(address, command, stdin=LISTENER)
        assert result.returncode == 0, result.stderr

    wanted: dict[str, set[tuple[str, int]]] = {}
    for plan in PLANS.values():
        for src, dst, port, _ in [
            *allowed_flows(plan, FLEET.standard),
            *denied_samples(plan, FLEET.standard),
        ]:
            wanted.setdefault(src, set()).add((dst, port))
    results: dict[tuple[str, str, int], bool] = {}
    gateways = {plan.gateway for plan in PLANS.values()}
    for src, targets in sorted(wanted.items()):
        ordered = sorted(targets)
        if src in gateways:
            # From the controller itself, all at once: a dropped attempt waits the timeout.
            with ThreadPoolExecutor(64) as pool:
                outcomes = pool.map(lambda t: _connects(*t), ordered)
            results.update(
                {(src, dst, port): ok for (dst, port), ok in zip(ordered, outcomes, strict=True)}
            )
            continue
        probe = deployment.ssh(
            src,
            f"python3 - '{json.dumps(ordered)}' {CONNECT_TIMEOUT_S}",
            timeout=120,
            stdin=PROBE,
        )
        assert probe.returncode == 0, probe.stderr
        for dst, port, ok in json.loads(probe.stdout):
            results[(src, dst, int(port))] = bool(ok)
    stop.set()
    for sock in gateway_listeners:
        sock.close()
    return results


def _connects(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def _flow_cases(kind: str) -> list[object]:
    cases = []
    for stack, plan in PLANS.items():
        items = (
            allowed_flows(plan, FLEET.standard)
            if kind == "allowed"
            else denied_samples(plan, FLEET.standard)
        )
        for src, dst, port, why in items:
            cases.append(pytest.param(src, dst, port, id=f"{stack}:{src}->{dst}:{port}:{why}"))
    return cases


@pytest.mark.parametrize(("src", "dst", "port"), _flow_cases("allowed"))
def test_allowed_flow_connects(
    reachability: dict[tuple[str, str, int], bool], src: str, dst: str, port: int
) -> None:
    assert reachability[(src, dst, port)], (
        f"{src} -> {dst}:{port} is in the flow matrix but did not connect"
    )


@pytest.mark.parametrize(("src", "dst", "port"), _flow_cases("denied"))
def test_denied_flow_is_refused(
    reachability: dict[tuple[str, str, int], bool], src: str, dst: str, port: int
) -> None:
    assert not reachability[(src, dst, port)], (
        f"{src} -> {dst}:{port} is not in the flow matrix but connected"
    )


def test_status_lists_every_machine_running(deployment: Deployment) -> None:
    result = subprocess.run(
        ["regionstack", "local", "status"],
        env=deployment.project.env,
        capture_output=True,
        text=True,
        check=True,
    )
    for _stack, plan in PLANS.items():
        for host in plan.hosts:
            line = next((line for line in result.stdout.splitlines() if host.name in line), "")
            assert "running" in line and host.address in line, result.stdout


def test_rebooted_guest_comes_back(deployment: Deployment) -> None:
    address = PLANS["chunan"].hosts_of("hotline")[0].address
    before = deployment.boot_id(address)
    assert before, f"{address} does not answer before the reboot"
    deployment.ssh(address, "sudo -n systemctl reboot", timeout=30)
    deployment.wait_until_rebooted(address, before)


def test_killed_machine_is_reported_by_refresh_and_recreated_by_up(deployment: Deployment) -> None:
    host = PLANS["chunan"].hosts_of("portal")[0]
    machine_dir = deployment.state_root / "chunan" / "machines" / host.name
    nspawn_pid = int((machine_dir / "nspawn.pid").read_text())
    supervisor_pid = int((machine_dir / "supervisor.pid").read_text())
    # The whole machine dies: its supervisor first (else it would restart nspawn), then nspawn.
    subprocess.run(["kill", "-9", str(supervisor_pid), str(nspawn_pid)], check=True)
    project = deployment.project
    drift = project.run("refresh", "--stack", "chunan", "--yes", "--expect-no-changes", check=False)
    assert drift.returncode != 0, "refresh did not report the dead machine:\n" + drift.stdout
    assert host.name in drift.stdout, drift.stdout
    project.run("up", "--stack", "chunan", "--yes")
    result = deployment.ssh(host.address, "systemctl is-system-running --wait")
    assert result.stdout.strip() == "running", result.stdout + result.stderr
    project.run("up", "--stack", "chunan", "--yes", "--expect-no-changes")


def test_destroy_leaves_nothing(deployment: Deployment) -> None:
    for stack in reversed(STACKS):
        deployment.project.run("destroy", "--stack", stack, "--yes")
    remaining = leftovers(deployment.state_root)
    assert not remaining, "\n".join(remaining)
