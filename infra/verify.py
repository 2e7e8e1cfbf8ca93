"""`regionstack verify STACK`: the host suites of `tests/hosts` against a deployed region.

The region is reached through its Ansible inventory only (`regionstack inventory STACK`
on the local target, the tag inventory on AWS), so the same suites check any region:

1. the inventory is resolved once with `ansible-inventory --list` (static files and
   inventory plugins alike) and written, with the parent region's when it exists, to a
   private context file the suites read (`tests/hosts/conftest.py`);
2. an ssh_config generated from the inventory keeps one multiplexed connection per host
   (ControlMaster), opened up front for all hosts at once: a command then costs one
   round trip instead of an ssh handshake or an Ansible run (`--force-ansible` took ~20
   min for `common` on 13 hosts);
3. one pytest process per role runs concurrently (the suites wait on the network, not on
   the CPU), each writing JUnit XML; the reports are merged into one file for review
   tools and summarised per role.

Flows across regions need the parent's inventory too: verify of a child region checks
its link to the parent when that inventory exists and says so when it does not.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config.schema import Standard
from infra.inventory import inventory_dir
from infra.local.firewall_rules import allowed_flows, standard_ports
from infra.local.plan import BRIDGE_PREFIX, TABLE_PREFIX, HostPlan, RegionPlan

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST_TESTS = REPO_ROOT / "tests" / "hosts"

# One suite per role, plus the flow matrix between the hosts; `--only` takes these names.
ROLE_MODULES: dict[str, str] = {
    "common": "test_common.py",
    "data_exchange": "test_data_exchange.py",
    "hotline": "test_hotline.py",
    "portal": "test_portal.py",
    "security_monitoring": "test_security_monitoring.py",
    "flows": "test_flows.py",
}
ROLES = tuple(ROLE_MODULES)
# Every group a suite runs against; `common` and `flows` cover every host.
ROLE_GROUPS: dict[str, str] = {role: role for role in ROLE_MODULES} | {
    "common": "all",
    "flows": "all",
}

CONTROLLER = "controller"  # the flow tests' name for the machine running verify
GATEWAY = "gateway"  # ... and for the region's gateway address as a destination
SSH_CONNECTIONS = (None, "ssh", "smart")
# Multiplexed connections outlive one command; verify closes them when it ends.
CONTROL_PERSIST_SECONDS = 900
CONNECT_TIMEOUT_SECONDS = 10

EXIT_OK, EXIT_FAILED = 0, 1


class VerifyError(Exception):
    """The region cannot be verified as asked; the message says what to do."""


# --- the inventory, resolved ----------------------------------------------------------


@dataclass(frozen=True)
class HostEntry:
    name: str
    address: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class RegionInventory:
    """A region's hosts, groups and variables, as Ansible resolves its inventory."""

    stack: str
    source: str  # the inventory file it was resolved from
    groups: dict[str, tuple[str, ...]]
    hostvars: dict[str, dict[str, Any]]

    @property
    def hosts(self) -> tuple[HostEntry, ...]:
        return tuple(
            HostEntry(
                name,
                str(self.hostvars[name].get("ansible_host", name)),
                tuple(g for g, members in sorted(self.groups.items()) if name in members),
            )
            for name in sorted(self.hostvars)
        )

    def hosts_of(self, group: str) -> tuple[HostEntry, ...]:
        members = set(self.groups.get(group, ()))
        return tuple(h for h in self.hosts if h.name in members)

    def host(self, name: str) -> HostEntry:
        return next(h for h in self.hosts if h.name == name)

    @property
    def any_vars(self) -> dict[str, Any]:
        return self.hostvars[min(self.hostvars)]

    @property
    def config(self) -> dict[str, Any]:
        """The region's effective configuration, as deployed (`regionstack_config`)."""
        config: dict[str, Any] = self.any_vars["regionstack_config"]
        return config

    @property
    def target(self) -> str:
        return str(self.any_vars.get("regionstack_target", "local"))

    def variables(self, name: str) -> dict[str, Any]:
        """A host's variables the way playbooks see them (hostvars, groups, names)."""
        values = dict(self.hostvars[name])
        values.setdefault("inventory_hostname", name)
        values.setdefault("group_names", [g for g in self.host(name).groups if g != "all"])
        values.setdefault("groups", {g: list(m) for g, m in self.groups.items()})
        return values

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "source": self.source,
            "groups": {g: list(m) for g, m in self.groups.items()},
            "hostvars": self.hostvars,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RegionInventory:
        return cls(
            data["stack"],
            data["source"],
            {g: tuple(m) for g, m in data["groups"].items()},
            dict(data["hostvars"]),
        )


def inventory_file(path: Path, stack: str) -> Path:
    """The inventory file in `path` (a file, or a directory `regionstack inventory` or the
    AWS tag inventory wrote)."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise VerifyError(
            f"no inventory for {stack} at {path}: run `regionstack inventory {stack}` "
            "after `pulumi up`, or give the inventory's path"
        )
    if (path / "inventory.yml").is_file():
        return path / "inventory.yml"
    candidates = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml", ".json")
    )
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(p.name for p in candidates) or "none"
    raise VerifyError(
        f"{path} holds no single inventory file (found: {found}): run "
        f"`regionstack inventory {stack}` or pass --inventory FILE"
    )


def _members(listing: Mapping[str, Any], group: str, seen: frozenset[str]) -> set[str]:
    entry = listing.get(group) or {}
    hosts = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        if child not in seen:
            hosts |= _members(listing, child, seen | {child})
    return hosts


def parse_listing(listing: Mapping[str, Any], source: str) -> RegionInventory:
    """A RegionInventory from the JSON of `ansible-inventory --list` (pure)."""
    hostvars: dict[str, dict[str, Any]] = dict(listing.get("_meta", {}).get("hostvars", {}))
    groups = {
        group: tuple(sorted(_members(listing, group, frozenset({group}))))
        for group in listing
        if group != "_meta"
    }
    for name in groups.get("all", ()):
        hostvars.setdefault(name, {})
    if not hostvars:
        raise VerifyError(f"the inventory {source} lists no hosts")
    stacks = {str(v.get("regionstack_stack")) for v in hostvars.values()}
    if len(stacks) != 1 or "None" in stacks:
        raise VerifyError(
            f"the inventory {source} is not one region's: regionstack_stack is "
            f"{sorted(stacks)} across its hosts"
        )
    missing = sorted(n for n, v in hostvars.items() if "regionstack_config" not in v)
    if missing:
        raise VerifyError(
            f"the inventory {source} gives no regionstack_config to {', '.join(missing)}: "
            "rewrite it with `regionstack inventory STACK`"
        )
    return RegionInventory(stacks.pop(), source, groups, hostvars)


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def ansible_inventory_command() -> str:
    """ansible-inventory of this interpreter's environment (the venv), else from PATH."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    return str(beside) if beside.is_file() else "ansible-inventory"


def resolve_inventory(path: Path, stack: str, run: Runner = subprocess.run) -> RegionInventory:
    """The inventory at `path`, resolved by Ansible, checked to be `stack`'s."""
    source = inventory_file(path, stack)
    try:
        result = run(
            [ansible_inventory_command(), "-i", str(source), "--list"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise VerifyError("ansible-inventory is not on PATH: run `source scripts/env.sh`") from None
    if result.returncode != 0:
        raise VerifyError(f"ansible-inventory cannot read {source}: {result.stderr.strip()}")
    region = parse_listing(json.loads(result.stdout), str(source))
    if region.stack != stack:
        raise VerifyError(f"the inventory {source} is {region.stack}'s, not {stack}'s")
    return region


# --- reaching the hosts ----------------------------------------------------------------


def _ssh_options(arguments: str) -> list[tuple[str, str]]:
    """ssh_config options from ansible's ssh argument string (`-o K=V`, `-J`, `-p`...)."""
    flags = {"-J": "ProxyJump", "-p": "Port", "-i": "IdentityFile", "-l": "User"}
    words = shlex.split(arguments)
    options: list[tuple[str, str]] = []
    index = 0
    while index < len(words):
        word = words[index]
        value = word[2:] if len(word) > 2 and word[:2] in ("-o", *flags) else None
        flag = word[:2]
        if value is None:
            if index + 1 >= len(words) or flag not in ("-o", *flags) or len(word) != 2:
                raise VerifyError(f"cannot carry ssh argument {word!r} into an ssh_config")
            index += 1
            value = words[index]
        if flag == "-o":
            key, sep, setting = value.partition("=")
            if not sep:
                key, _, setting = value.partition(" ")
            options.append((key.strip(), setting.strip()))
        else:
            options.append((flags[flag], value))
        index += 1
    return options


def uses_ssh(hostvars: Mapping[str, Any]) -> bool:
    return hostvars.get("ansible_connection") in SSH_CONNECTIONS


def ssh_config(regions: Iterable[RegionInventory], control_dir: Path) -> str:
    """One `Host` block per host reached over ssh, with a persistent master connection.

    Ansible's own ssh arguments of the host come first: ssh takes the first value it
    reads for an option, so they win over the defaults here.
    """
    blocks: list[str] = []
    for region in regions:
        for host in region.hosts:
            values = region.hostvars[host.name]
            if not uses_ssh(values):
                continue
            options: list[tuple[str, str]] = []
            for key in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
                options += _ssh_options(str(values.get(key) or ""))
            options += [("HostName", host.address)]
            if values.get("ansible_user"):
                options.append(("User", str(values["ansible_user"])))
            if values.get("ansible_port"):
                options.append(("Port", str(values["ansible_port"])))
            key_file = values.get("ansible_ssh_private_key_file") or values.get(
                "ansible_private_key_file"
            )
            if key_file:
                options += [("IdentityFile", str(key_file)), ("IdentitiesOnly", "yes")]
            options += [
                ("BatchMode", "yes"),
                # The authorised-use banner would land in every command's stderr.
                ("LogLevel", "ERROR"),
                ("ConnectTimeout", str(CONNECT_TIMEOUT_SECONDS)),
                ("ServerAliveInterval", "15"),
                ("ControlMaster", "auto"),
                ("ControlPath", str(control_dir / "%C")),
                ("ControlPersist", f"{CONTROL_PERSIST_SECONDS}s"),
            ]
            seen: set[str] = set()
            lines = [f"Host {host.name}"]
            for key, value in options:
                if key.lower() not in seen:
                    seen.add(key.lower())
                    lines.append(f"  {key} {value}")
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


# --- the context the suites read ------------------------------------------------------


@dataclass(frozen=True)
class VerifyContext:
    region: RegionInventory
    parent: RegionInventory | None
    parent_note: str  # why the link to the parent is not checked ("" when it is)
    ssh_config: str  # path of the generated ssh_config

    @property
    def regions(self) -> tuple[RegionInventory, ...]:
        return (self.region,) if self.parent is None else (self.region, self.parent)

    def owner(self, name: str) -> RegionInventory:
        return next(r for r in self.regions if name in r.hostvars)

    def host_spec(self, name: str) -> tuple[str, dict[str, Any]]:
        """testinfra's host spec and options for a host of either region."""
        region = self.owner(name)
        values = region.hostvars[name]
        options: dict[str, Any] = {}
        if values.get("ansible_become"):
            options["sudo"] = True
            if values.get("ansible_become_user"):
                options["sudo_user"] = values["ansible_become_user"]
        if uses_ssh(values):
            return f"ssh://{name}", {**options, "ssh_config": self.ssh_config}
        # Other connections (SSM...) go through Ansible itself: slower, but exact.
        return f"ansible://{name}", {
            "ansible_inventory": region.source,
            "force_ansible": True,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region.to_json(),
            "parent": self.parent.to_json() if self.parent else None,
            "parent_note": self.parent_note,
            "ssh_config": self.ssh_config,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VerifyContext:
        parent = data.get("parent")
        return cls(
            RegionInventory.from_json(data["region"]),
            RegionInventory.from_json(parent) if parent else None,
            data["parent_note"],
            data["ssh_config"],
        )

    @classmethod
    def load(cls, path: Path) -> VerifyContext:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def build_context(
    region: RegionInventory,
    parent: RegionInventory | None,
    parent_note: str,
    workdir: Path,
) -> Path:
    """Write the ssh_config and the context file into the private `workdir`."""
    control = workdir / "cm"
    control.mkdir(mode=0o700, exist_ok=True)
    config = workdir / "ssh_config"
    regions = [region] if parent is None else [region, parent]
    write_private(config, ssh_config(regions, control))
    context = VerifyContext(region, parent, parent_note, str(config))
    path = workdir / "context.json"
    # The inventory carries the region's generated secrets: private, removed afterwards.
    write_private(path, json.dumps(context.to_json(), ensure_ascii=False))
    return path


# --- the flow matrix, from the inventory ----------------------------------------------


def plan_from_inventory(region: RegionInventory) -> RegionPlan:
    """The region's address plan rebuilt from what was deployed, so the flow matrix code
    (`infra.local.firewall_rules`) resolves the flows exactly as it did for the firewalls,
    on any target."""
    config = region.config
    federation = config.get("federation") or {}
    cidr = str((config.get("target") or {}).get("cidr", "0.0.0.0/0"))
    code = str(config["region"]["code"])
    hosts = []
    for component in config["standard"]["components"]:
        for index, entry in enumerate(region.hosts_of(component), start=1):
            hosts.append(HostPlan(entry.name, component, index, entry.address))
    return RegionPlan(
        stack=region.stack,
        code=code,
        cidr=cidr,
        prefix_length=int(cidr.rpartition("/")[2] or 0),
        bridge=f"{BRIDGE_PREFIX}{code}",
        gateway=str(region.any_vars.get("regionstack_gateway", "")),
        table=f"{TABLE_PREFIX}{code}",
        hosts=tuple(hosts),
        parent_exchange=federation.get("parent_exchange") or None,
        child_exchanges=tuple(federation.get("child_exchanges") or ()),
    )


def standard_of(region: RegionInventory) -> Standard:
    return Standard.model_validate(region.config["standard"])


@dataclass(frozen=True)
class Attempt:
    """One connection the flow tests make, and whether the flow matrix admits it."""

    source: str  # host name, or CONTROLLER
    destination: str  # host name, or GATEWAY
    address: str
    port: int
    flow: str  # the admitting flow's name; "" when the matrix denies the attempt

    @property
    def allowed(self) -> bool:
        return bool(self.flow)


@dataclass(frozen=True)
class FlowPlan:
    """Every (source, destination) pair the flow tests try on every port the standard
    knows, and which of those connections the flow matrix admits. The tests add, per
    destination, whatever else it is found listening on (all denied)."""

    attempts: tuple[Attempt, ...]
    sources: tuple[str, ...]
    destinations: dict[str, str]  # name -> address

    def pairs(self) -> list[tuple[str, str]]:
        return sorted({(a.source, a.destination) for a in self.attempts})

    def allowed(self) -> list[Attempt]:
        return [a for a in self.attempts if a.allowed]

    def admitted_ports(self, source: str, destination: str) -> set[int]:
        return {
            a.port
            for a in self.attempts
            if a.allowed and a.source == source and a.destination == destination
        }


def flow_plan(region: RegionInventory, parent: RegionInventory | None) -> FlowPlan:
    """What the flow tests try: from every host (and from the controller where it plays
    the outside parties, on the local target) to every other host, the gateway and, with
    the parent's inventory, across the link to the parent in both directions."""
    standard = standard_of(region)
    plan = plan_from_inventory(region)
    names = {h.address: h.name for h in region.hosts}
    if parent is not None:
        names |= {h.address: h.name for h in parent.hosts}
    local = region.target == "local"
    admitted: dict[tuple[str, str, int], str] = {}
    for src, dst, port, flow in allowed_flows(plan, standard):
        source = CONTROLLER if src == plan.gateway else names.get(src)
        destination = GATEWAY if dst == plan.gateway else names.get(dst)
        if source is None or destination is None:
            continue  # a child region's exchange: its own verify checks that link
        admitted.setdefault((source, destination, port), flow)
    ports = standard_ports(standard)
    own = [h.name for h in region.hosts]
    others = [h.name for h in parent.hosts] if parent is not None else []
    sources = own + others + ([CONTROLLER] if local else [])
    destinations = {names[a]: a for a in names} | ({GATEWAY: plan.gateway} if local else {})
    attempts: list[Attempt] = []
    for source in sources:
        for destination, address in destinations.items():
            if source == destination or (source == CONTROLLER and destination == GATEWAY):
                continue
            if source in others and destination in others:
                continue  # inside the parent region: the parent's own verify
            if source == CONTROLLER and destination in others:
                continue  # the controller is the parent's outside parties there
            if destination == GATEWAY and source not in own:
                continue
            for port in ports:
                flow = admitted.get((source, destination, port), "")
                attempts.append(Attempt(source, destination, address, port, flow))
    return FlowPlan(tuple(attempts), tuple(sources), destinations)


# --- running the suites ---------------------------------------------------------------


def modules_for(roles: Sequence[str]) -> list[tuple[str, Path]]:
    unknown = [r for r in roles if r not in ROLE_MODULES]
    if unknown:
        raise VerifyError(f"unknown role(s) {', '.join(unknown)}: choose from {', '.join(ROLES)}")
    return [(role, HOST_TESTS / ROLE_MODULES[role]) for role in dict.fromkeys(roles)]


def pytest_command(module: Path, context: Path, junit: Path, role: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--no-header",
        "-rfE",
        "--tb=short",
        f"--rootdir={REPO_ROOT}",
        "-o",
        f"junit_suite_name={role}",
        "-o",
        "junit_family=xunit2",
        f"--junit-xml={junit}",
        f"--regionstack-context={context}",
        str(module),
    ]


def _ssh(config: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", "-F", str(config), *args, name, *([] if args else ["true"])],
        capture_output=True,
        text=True,
        check=False,
        timeout=CONNECT_TIMEOUT_SECONDS * 3,
    )


def open_connections(context: VerifyContext) -> dict[str, str]:
    """Open every ssh host's master connection at once; {host: error} of those that fail."""
    config = Path(context.ssh_config)
    names = [h.name for r in context.regions for h in r.hosts if uses_ssh(r.hostvars[h.name])]

    def attempt(name: str) -> tuple[str, str]:
        try:
            result = _ssh(config, name)
        except subprocess.TimeoutExpired:
            return name, "timed out"
        return name, "" if result.returncode == 0 else result.stderr.strip() or "ssh failed"

    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        return {name: error for name, error in pool.map(attempt, names) if error}


def close_connections(context: VerifyContext) -> None:
    config = Path(context.ssh_config)
    names = [h.name for r in context.regions for h in r.hosts if uses_ssh(r.hostvars[h.name])]
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        list(pool.map(lambda n: _ssh(config, n, "-O", "exit"), names))


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped


@dataclass(frozen=True)
class Failure:
    role: str
    test: str
    message: str


PREFLIGHT_CLASS = "verify.preflight"
MODULE_ROLES = {Path(module).stem: role for role, module in ROLE_MODULES.items()}


def role_of(classname: str, name: str) -> str:
    """The role a JUnit testcase belongs to (`tests.hosts.test_portal` -> `portal`)."""
    if classname.startswith(PREFLIGHT_CLASS):
        return "preflight"
    for dotted in (classname, name):
        for part in dotted.replace("/", ".").split("."):
            if part in MODULE_ROLES:
                return MODULE_ROLES[part]
    return "other"


def summarize_junit(path: Path) -> tuple[dict[str, Counts], list[Failure]]:
    """Per role: passed, failed (failures and errors), skipped; and every failure."""
    root = ET.parse(path).getroot()
    counts: dict[str, Counts] = {}
    failures: list[Failure] = []
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for suite in suites:
        suite_roles: set[str] = set()
        for case in suite.iter("testcase"):
            role = role_of(case.get("classname", ""), case.get("name", ""))
            suite_roles.add(role)
            entry = counts.setdefault(role, Counts())
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is not None:
                entry.failed += 1
                message = (bad.get("message") or (bad.text or "").strip()).splitlines()
                failures.append(Failure(role, case.get("name", ""), message[0] if message else ""))
            elif case.find("skipped") is not None:
                entry.skipped += 1
            else:
                entry.passed += 1
        # A suite's wall time: its cases ran one after the other in that role's process.
        if len(suite_roles) == 1:
            counts[suite_roles.pop()].seconds += float(suite.get("time") or 0)
    return counts, failures


def format_summary(
    stack: str, counts: Mapping[str, Counts], failures: Sequence[Failure], notes: Sequence[str]
) -> str:
    order = [r for r in ("preflight", *ROLES, "other") if r in counts]
    lines = [f"verify of {stack}:"]
    lines += [f"  {note}" for note in notes]
    lines.append(f"  {'ROLE':<22}{'PASSED':>8}{'FAILED':>8}{'SKIPPED':>9}{'TIME':>9}")
    total = Counts()
    for role in order:
        c = counts[role]
        lines.append(f"  {role:<22}{c.passed:>8}{c.failed:>8}{c.skipped:>9}{c.seconds:>8.1f}s")
        total.passed += c.passed
        total.failed += c.failed
        total.skipped += c.skipped
    lines.append(f"  {'total':<22}{total.passed:>8}{total.failed:>8}{total.skipped:>9}")
    if failures:
        lines.append("  failures:")
        lines += [f"    {f.role}: {f.test}: {f.message[:160]}" for f in failures]
    lines.append(f"{total.passed} passed, {total.failed} failed, {total.skipped} skipped")
    return "\n".join(lines)


def merge_junit(parts: Sequence[tuple[str, Path]], destination: Path) -> None:
    """One <testsuites> document holding each role's <testsuite>."""
    merged = ET.Element("testsuites")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    elapsed = 0.0
    for _, path in parts:
        root = ET.parse(path).getroot()
        for suite in [root] if root.tag == "testsuite" else root.findall("testsuite"):
            merged.append(suite)
            for key in totals:
                totals[key] += int(suite.get(key) or 0)
            elapsed += float(suite.get("time") or 0)
    for key, value in totals.items():
        merged.set(key, str(value))
    merged.set("time", f"{elapsed:.3f}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(merged).write(destination, encoding="utf-8", xml_declaration=True)


def preflight_junit(stack: str, unreachable: Mapping[str, str], destination: Path) -> None:
    suite = ET.Element("testsuite", name="preflight", tests=str(len(unreachable)), failures="0")
    suite.set("errors", str(len(unreachable)))
    for name, error in sorted(unreachable.items()):
        case = ET.SubElement(suite, "testcase", classname=f"{PREFLIGHT_CLASS}.{stack}", name=name)
        ET.SubElement(case, "error", message=f"cannot reach {name}: {error}")
    merged = ET.Element("testsuites")
    merged.append(suite)
    destination.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(merged).write(destination, encoding="utf-8", xml_declaration=True)


@dataclass(frozen=True)
class VerifyRequest:
    stack: str
    inventory: Path
    roles: tuple[str, ...]
    parent_stack: str | None
    parent_inventory: Path | None
    junit: Path | None


def _load_parent(request: VerifyRequest) -> tuple[RegionInventory | None, str]:
    if request.parent_stack is None:
        return None, f"{request.stack} has no parent region: no link to check"
    path = request.parent_inventory or inventory_dir(request.parent_stack)
    try:
        return resolve_inventory(path, request.parent_stack), ""
    except VerifyError as err:
        return None, (f"the link to the parent region {request.parent_stack} is NOT checked: {err}")


def _run_suites(
    modules: Sequence[tuple[str, Path]], context_file: Path, workdir: Path
) -> tuple[list[tuple[str, Path]], list[str]]:
    """One pytest process per role, all at once: (role, JUnit file) of each that reported,
    and what went wrong with those that could not (pytest's own output)."""
    running = []
    for role, module in modules:
        junit, log_file = workdir / f"{role}.xml", workdir / f"{role}.log"
        with log_file.open("w") as log:
            process = subprocess.Popen(
                pytest_command(module, context_file, junit, role),
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        running.append((role, junit, log_file, process))
    reports: list[tuple[str, Path]] = []
    broken: list[str] = []
    for role, junit, log_file, process in running:
        code = process.wait()
        if junit.is_file():
            reports.append((role, junit))
        # 0: all passed, 1: some failed; anything else: pytest itself could not run them.
        if code not in (0, 1) or not junit.is_file():
            text = log_file.read_text(errors="replace")
            broken.append(f"the {role} suite did not run (pytest exited {code}):\n{text[-3000:]}")
    return reports, broken


def verify(request: VerifyRequest, out: Callable[[str], None] = print) -> int:
    """Run the suites of `request.roles` against the region; print the summary table.

    Exit code 1 when a check failed, a suite could not run or a host of the region cannot
    be reached (reported as JUnit errors too). The parent's hosts being out of reach only
    leaves the link to the parent unchecked, and says so."""
    started = time.monotonic()
    modules = modules_for(request.roles)
    region = resolve_inventory(request.inventory, request.stack)
    parent, parent_note = (None, "")
    if "flows" in request.roles:
        parent, parent_note = _load_parent(request)
    workdir = Path(tempfile.mkdtemp(prefix=f"regionstack-verify-{request.stack}-"))
    context: VerifyContext | None = None
    try:
        context_file = build_context(region, parent, parent_note, workdir)
        context = VerifyContext.load(context_file)
        unreachable = open_connections(context)
        own = {name: error for name, error in unreachable.items() if name in region.hostvars}
        if own:
            for name, error in sorted(own.items()):
                out(f"regionstack: cannot reach {name} over ssh: {error}")
            if request.junit:
                preflight_junit(request.stack, own, request.junit)
            return EXIT_FAILED
        if parent is not None and unreachable:
            parent_note = (
                f"the link to the parent region {parent.stack} is NOT checked: cannot reach "
                f"{', '.join(sorted(unreachable))}"
            )
            parent = None
            context_file = build_context(region, parent, parent_note, workdir)
        connected = time.monotonic()
        reports, broken = _run_suites(modules, context_file, workdir)
        merged = request.junit or workdir / "verify.xml"
        merge_junit(reports, merged)
        counts, failures = summarize_junit(merged)
        notes = [f"{len(region.hosts)} hosts from {region.source}"]
        if parent is not None:
            notes.append(f"parent {parent.stack}: {len(parent.hosts)} hosts from {parent.source}")
        notes += [parent_note] if parent_note else []
        notes.append(
            f"{time.monotonic() - started:.0f}s in all ({connected - started:.1f}s to resolve "
            f"the inventories and connect); JUnit XML: {request.junit or 'not kept (--junit FILE)'}"
        )
        out(format_summary(request.stack, counts, failures, notes))
        for problem in broken:
            out(f"regionstack: {problem}")
        if broken or not any(c.total for c in counts.values()):
            return EXIT_FAILED
        return EXIT_FAILED if any(c.failed for c in counts.values()) else EXIT_OK
    finally:
        if context is not None:
            close_connections(context)
        shutil.rmtree(workdir, ignore_errors=True)
