"""The flow matrix, by real connection attempts between the hosts.

    regionstack verify STACK --only flows

From every host of the region (and from the controller, where it plays the internet, the
admins and the call centre: the local target), a TCP connection is tried to every other
host and to the gateway on every port the standard knows and on every port the
destination is found listening on. What the flow matrix admits must connect; everything
else must be refused or dropped. Expectations come from the flow matrix code
(`infra.local.firewall_rules.allowed_flows`, via `infra.verify.flows.flow_plan`) applied
to the deployed configuration, never from a list written here.

With the parent region's inventory, the link between the regions is tried too, in both
directions: only this region's first exchange reaches the parent's first exchange, on the
federation port. Without it the link is not checked, and a skipped test says so.

All attempts of one source run at once in one python3 process on that host, and all
sources at once, so the whole matrix costs about one connect timeout.
"""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from infra.verify.flows import CONTROLLER, GATEWAY, flow_plan
from tests.hosts.helpers import connect, public_ports, verify_context

CONNECT_TIMEOUT_SECONDS = 3
OPEN = "open"

# Runs on a source: tries every (address, port) of argv[1] at once; prints
# {"address:port": "open" | "refused" | "timeout" | "<errno name>"}.
ATTEMPTS = r"""
import errno, json, socket, sys
from concurrent.futures import ThreadPoolExecutor
targets, timeout = json.loads(sys.argv[1]), float(sys.argv[2])
def attempt(target):
    address, port = target
    try:
        socket.create_connection((address, port), timeout=timeout).close()
        outcome = "open"
    except ConnectionRefusedError:
        outcome = "refused"
    except (socket.timeout, TimeoutError):
        outcome = "timeout"
    except OSError as error:
        outcome = errno.errorcode.get(error.errno, str(error))
    return "%s:%d" % (address, port), outcome
with ThreadPoolExecutor(max_workers=min(128, max(1, len(targets)))) as pool:
    print(json.dumps(dict(pool.map(attempt, targets))))
"""


def pytest_generate_tests(metafunc):
    context = verify_context(metafunc.config)
    plan = flow_plan(context.region, context.parent)
    if "allowed" in metafunc.fixturenames:
        cases = plan.allowed()
        metafunc.parametrize(
            "allowed",
            cases,
            ids=[f"{a.flow}:{a.source}->{a.destination}:{a.port}" for a in cases],
        )
    if "pair" in metafunc.fixturenames:
        pairs = plan.pairs()
        metafunc.parametrize("pair", pairs, ids=[f"{s}->{d}" for s, d in pairs])


@pytest.fixture(scope="session")
def plan(context):
    return flow_plan(context.region, context.parent)


@pytest.fixture(scope="session")
def listening(context, plan):
    """{host: ports it listens on beyond loopback}, for every destination host."""
    names = [d for d in plan.destinations if d != GATEWAY]
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        found = pool.map(lambda name: public_ports(connect(context, name)), names)
        return dict(zip(names, found, strict=True))


@pytest.fixture(scope="session")
def probed(plan, listening):
    """{(source, destination): ports tried}: the standard's, and whatever else listens."""
    ports: dict[tuple[str, str], set[int]] = {}
    for attempt in plan.attempts:
        ports.setdefault((attempt.source, attempt.destination), set()).add(attempt.port)
    for (_, destination), tried in ports.items():
        tried |= listening.get(destination, set())
    return ports


def run_attempts(context, source, targets):
    arguments = [json.dumps(targets), str(CONNECT_TIMEOUT_SECONDS)]
    if source == CONTROLLER:
        result = subprocess.run(
            [sys.executable, "-c", ATTEMPTS, *arguments],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
    host = connect(context, source)
    result = host.run("python3 -c %s %s %s", ATTEMPTS, *arguments)
    assert result.rc == 0, f"the attempts failed to run on {source}: {result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def outcomes(context, plan, probed):
    """{(source, destination, port): outcome} of every attempt, all sources at once."""
    batches: dict[str, list[tuple[str, str, int]]] = {}
    for (source, destination), ports in sorted(probed.items()):
        address = plan.destinations[destination]
        batches.setdefault(source, []).extend(
            (destination, address, port) for port in sorted(ports)
        )

    def run(source):
        targets = [[address, port] for _, address, port in batches[source]]
        found = run_attempts(context, source, targets)
        return {
            (source, destination, port): found[f"{address}:{port}"]
            for destination, address, port in batches[source]
        }

    results: dict[tuple[str, str, int], str] = {}
    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        for part in pool.map(run, sorted(batches)):
            results |= part
    return results


def test_allowed_flow_connects(allowed, outcomes, listening):
    outcome = outcomes[(allowed.source, allowed.destination, allowed.port)]
    ports = sorted(listening.get(allowed.destination, set()))
    assert outcome == OPEN, (
        f"flow {allowed.flow}: {allowed.source} -> {allowed.destination} "
        f"({allowed.address}:{allowed.port}) is {outcome}; {allowed.destination} listens on {ports}"
    )


def test_nothing_else_connects(pair, plan, probed, outcomes):
    """Every port tried from `source` to `destination` that the matrix does not admit is
    refused or dropped."""
    source, destination = pair
    admitted = plan.admitted_ports(source, destination)
    tried = probed[pair]
    unexpected = {
        port: outcomes[(source, destination, port)]
        for port in sorted(tried - admitted)
        if outcomes[(source, destination, port)] == OPEN
    }
    assert unexpected == {}, (
        f"{source} -> {destination} ({plan.destinations[destination]}) connects on ports the "
        f"flow matrix does not admit: {sorted(unexpected)} (tried {sorted(tried)})"
    )


def test_link_to_the_parent_is_checked(context, plan):
    """A region with a parent: the federation attempt is among the flows tried, or the
    reason it is not (no parent inventory) is reported here."""
    parent_code = context.region.config["region"].get("parent")
    if not parent_code:
        pytest.skip(f"{context.region.stack} has no parent region")
    if context.parent is None:
        pytest.skip(context.parent_note)
    parent_names = {h.name for h in context.parent.hosts}
    links = [a for a in plan.allowed() if a.destination in parent_names]
    exchange = context.region.hosts_of("data_exchange")[0].name
    parent_exchange = context.parent.hosts_of("data_exchange")[0].name
    assert [(a.source, a.destination) for a in links] == [(exchange, parent_exchange)], links
