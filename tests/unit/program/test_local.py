"""The local program (infra/program/local.py, run through infra/__main__.py) under Pulumi
mocks: what it registers.

The program is run as `pulumi up` runs it, for each local stack of stacks/, with the
controller's checks and mirrors stubbed. Every resource's URN (type, name and parent
chain, which is what Pulumi matches a deployed resource by) is kept as a snapshot in
`tests/unit/program/snapshots/<stack>.txt`, with the inputs of the region's PKI and service
secrets beside their URNs: a refactoring of the program that renamed, re-parented or
re-fed any of them would show a deployed local stack a replacement, and fails here.
Each dynamic resource's type names it (`pulumi-python:dynamic/local:Network`); before,
all but the machines and the image layers were `pulumi-python:dynamic:Resource`, and that
previous type is aliased on each (modules/props.py `untyped_alias`), so a stack deployed
then migrates them in place (tests/unit/modules/test_props.py checks every class).
After reviewing a deliberate change, rewrite the snapshots with
`REGIONSTACK_UPDATE_SNAPSHOTS=1 pytest tests/unit/program/test_local.py`.
"""

from __future__ import annotations

import json
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from infra import pki
from infra.config.loader import Fleet
from infra.local.plan import plan_region
from infra.sandbox import copy_project
from tests.unit.snapshots import snapshot_diff

ROOT = Path(__file__).resolve().parents[3]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
LOCAL_STACKS = ["zhejiang", "hangzhou", "chunan", "tonglu"]
HOST_CERTIFICATE = "pulumi-python:dynamic/pki:HostCertificate"
# The PKI's and the service secrets' resources, whose inputs the snapshot keeps.
CREDENTIALS = (
    "pulumi-python:dynamic/pki:RegionCa",
    HOST_CERTIFICATE,
    "pulumi-python:dynamic/region:ServiceSecrets",
)
PROVIDER_KEY = "__provider"
# What a parent's stack exports as child_ca_<code> (read through the StackReference).
PARENT_ISSUED = {"cert_pem": "ISSUED-CERT", "key_pem": "ISSUED-KEY", "chain_pem": "ISSUED-CHAIN"}


class LocalMocks(pulumi.runtime.Mocks):
    """Outputs the local providers would return, and the parent's stack outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            # Every child_ca_<code> a parent could export; the program reads its own.
            codes = ["330000", "330100", "330122", "330127"]
            outputs["outputs"] = {f"child_ca_{code}": PARENT_ISSUED for code in codes}
        outputs.setdefault("rootfs", "/cache/rootfs")
        outputs.setdefault("public_key", "ssh-ed25519 AAAA test")
        outputs.setdefault("private_key", "PRIVATE")
        outputs.setdefault("ssh_host_ed25519_public_key", "ssh-ed25519 BBBB host")
        if "digests" in outputs:  # the image layers: each one's lowerdir in the cache
            outputs["roots"] = {name: f"/cache/layers/{name}" for name in outputs["digests"]}
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        return {}


@dataclass
class Registered:
    urn: str
    typ: str
    inputs: dict[str, Any]


class RecordingMonitor(MockMonitor):  # type: ignore[misc]
    """The mock monitor, keeping each registration's URN and inputs as the engine sees them."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object)
            self.registered.append(Registered(response.urn, request.type, dict(inputs)))
        return response

    def ReadResource(self, request: Any) -> Any:
        # A StackReference is read, not registered; its name says which stack it reads.
        response = super().ReadResource(request)
        self.registered.append(Registered(response.urn, request.type, {}))
        return response


@dataclass
class LocalProgram:
    stack: str
    registered: list[Registered]
    exports: dict[str, Any]

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.registered if r.typ == typ]


def run_local_program(
    stack: str, monkeypatch: pytest.MonkeyPatch, root: Path = ROOT
) -> LocalProgram:
    """`root`'s infra/__main__.py for `stack`, under mocks, with the controller stubbed."""
    import infra.local.image
    import infra.local.preflight
    import infra.playbook

    monkeypatch.setenv("REGIONSTACK_LOCAL_STATE", "/var/lib/regionstack/local")
    monkeypatch.setenv("REGIONSTACK_APT_CACHE", "/var/cache/regionstack/apt")
    monkeypatch.setattr(infra.local.preflight, "check_controller", lambda: None)
    monkeypatch.setattr(
        infra.local.image,
        "controller_mirror",
        lambda: infra.local.image.MirrorConfig("http://mirror.invalid/debian", None),
    )
    monkeypatch.setattr(
        infra.local.image,
        "controller_security_mirror",
        lambda: "http://mirror.invalid/debian-security",
    )
    # The roles' and services' digest changes with every edit of the repository; the
    # Playbook resource re-runs on that by design, so it is no part of this comparison.
    monkeypatch.setattr(infra.playbook, "content_hash", lambda _root: "CONTENT")
    exports: dict[str, Any] = {}
    real_export = pulumi.export

    def export(name: str, value: Any) -> None:
        exports[name] = value
        real_export(name, value)

    monkeypatch.setattr(pulumi, "export", export)
    stack_file = yaml.safe_load((root / "stacks" / f"Pulumi.{stack}.yaml").read_text("utf-8"))
    monitor = RecordingMonitor(LocalMocks())
    pulumi.runtime.set_mocks(
        LocalMocks(), project="regionstack", stack=stack, preview=False, monitor=monitor
    )
    pulumi.runtime.set_all_config({k: str(v) for k, v in stack_file["config"].items()})

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> Any:
        runpy.run_path(str(root / "infra" / "__main__.py"), run_name="__main__")

    try:
        run()
    finally:
        pulumi.runtime.set_all_config({})
    return LocalProgram(stack, monitor.registered, exports)


def _canonical(inputs: dict[str, Any]) -> str:
    kept = {k: v for k, v in inputs.items() if k != PROVIDER_KEY}
    text = json.dumps(kept, sort_keys=True, ensure_ascii=False, default=str)
    return text.replace(str(ROOT), "<repo>")


def _is_credential(item: Registered) -> bool:
    return item.typ in CREDENTIALS


def render(program: LocalProgram) -> str:
    lines = [
        f"# URNs the local program registers for {program.stack} (tests/unit/program/test_local.py);",
        "# the PKI's and the service secrets' inputs follow their URN.",
        "# Regenerate: REGIONSTACK_UPDATE_SNAPSHOTS=1 pytest tests/unit/program/test_local.py",
        "",
    ]
    for item in sorted(program.registered, key=lambda r: r.urn):
        lines.append(item.urn)
        if _is_credential(item):
            lines.append(f"    {_canonical(item.inputs)}")
    lines += ["", f"# outputs: {', '.join(sorted(program.exports))}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def programs() -> dict[str, LocalProgram]:
    return {}


def _program(
    stack: str, programs: dict[str, LocalProgram], monkeypatch: pytest.MonkeyPatch
) -> LocalProgram:
    if stack not in programs:
        programs[stack] = run_local_program(stack, monkeypatch)
    return programs[stack]


@pytest.mark.parametrize("stack", LOCAL_STACKS)
def test_registrations_match_the_snapshot(
    stack: str, programs: dict[str, LocalProgram], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = SNAPSHOTS / f"{stack}.txt"
    current = render(_program(stack, programs, monkeypatch))
    diff = snapshot_diff(path, current)
    assert not diff, f"the local program's resources changed; review, then update:\n{diff}"


@pytest.mark.parametrize("stack", LOCAL_STACKS)
def test_host_certificates_carry_the_planned_address(
    stack: str,
    programs: dict[str, LocalProgram],
    monkeypatch: pytest.MonkeyPatch,
    sample_fleet: Fleet,
) -> None:
    program = _program(stack, programs, monkeypatch)
    issued = {
        (r.inputs["host"], r.inputs["kind"]): r.inputs["address"]
        for r in program.of_type(HOST_CERTIFICATE)
    }
    plan = plan_region(sample_fleet, sample_fleet.region(stack))
    expected = {(h.name, kind): h.address for h in plan.hosts for kind in ("server", "client")}
    assert issued == expected


def test_a_local_host_certificate_names_its_address() -> None:
    """What the provider makes of a local host's inputs: the IP SAN beside the names."""
    ca = pki.create_region_ca("330127", "淳安县")
    leaf = pki.issue_server_certificate(
        ca.cert_pem, ca.key_pem, host="chunan-portal-1", address="10.203.2.6", stack="chunan"
    )
    pki.verify_chain(leaf.cert_pem, "", ca.cert_pem, name="10.203.2.6")


def test_a_copy_of_the_project_deploys_its_own_roles_and_standard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The program's code is the installed checkout's, but the roles that configure the hosts
    and bake the layers are those of the project whose configuration `pulumi up` runs: a
    copy with a changed standard once baked layers from the copy while the program checked
    them against the checkout's roles, and every `pulumi up` of it failed."""
    project = copy_project(tmp_path / "project")
    program = run_local_program("chunan", monkeypatch, root=project)
    (layers,) = program.of_type("pulumi-python:dynamic/local:ImageLayers")
    (site,) = program.of_type("pulumi-python:dynamic/region:Playbook")
    assert layers.inputs["project_dir"] == site.inputs["project_dir"] == str(project)
