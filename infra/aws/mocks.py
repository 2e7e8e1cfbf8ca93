"""Evaluate the aws program of one region under Pulumi mocks and keep what it registered.

The unit tests (tests/unit/aws/, tests/unit/modules/aws/) and the benchmark
(benchmarks/aws_mocks.py) share it, so it lives here rather than among the tests. Each
region is evaluated once per test session (tests/unit/conftest.py caches it); the tests
then read the recorded resources, warnings and outputs. The mocks answer like the provider
would where the program reads an output back: ids, ARNs in the region's partition, the
bucket's name, the launch template's version, the availability zones and the account.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from infra.aws.images import LAYER_DIGEST_TAG
from infra.config.effective import digest, effective_config
from infra.config.loader import Fleet
from infra.config.stack import StackSelection
from infra.program.aws import AwsInputs, deploy_aws
from modules.pki import HostCertificateProvider, RegionCaProvider
from modules.region import Region, RegionArgs
from modules.secrets import ServiceSecretsProvider

ACCOUNT = "123456789012"
ZONES = {
    "cn-north-1": ["cn-north-1a", "cn-north-1b", "cn-north-1d"],
    "cn-northwest-1": ["cn-northwest-1a", "cn-northwest-1b", "cn-northwest-1c"],
}
# The checkout: its roles bake the layers, whichever fleet a test evaluates.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
REAL_STACKS = PROJECT_ROOT / "stacks"
ARN = re.compile(r"arn:([a-z0-9-]+):")


def zones_of(region: str) -> list[str]:
    return ZONES.get(region, [f"{region}{letter}" for letter in "abc"])


def inputs_for(partition: str, region: str) -> AwsInputs:
    return AwsInputs(
        certificate_arn=f"arn:{partition}:acm:{region}:{ACCOUNT}:certificate/0a1b2c3d-portal",
        ami_id="ami-0123456789abcdef0",
    )


@dataclass
class Recorded:
    typ: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    urn: str

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.inputs.get("tags") or {})


# Every dynamic resource's type starts so (`pulumi-python:dynamic/pki:HostCertificate`).
DYNAMIC = "pulumi-python:dynamic"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # Pulumi's wire marker of a secret


def _revealed(value: Any) -> Any:
    """The plain value of a property the engine would hand a provider (secrets opened)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIGNATURE) and "value" in value:
            return _revealed(value["value"])
        return {key: _revealed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_revealed(item) for item in value]
    return value


def _dynamic_outputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """What the repository's dynamic provider of a resource answers, by running it: the region's PKI and credentials are real under the mocks, so tests can
    verify the certificates."""
    props = {k: _revealed(v) for k, v in inputs.items() if not k.startswith("__")}
    provider: Any
    if "names" in props:
        provider = ServiceSecretsProvider()
    elif "kind" in props:
        provider = HostCertificateProvider()
    else:
        provider = RegionCaProvider()
    return dict(provider.create(props).outs or {})


def parent_issued_ca(code: str, parent_code: str) -> dict[str, str]:
    """The `child_ca_<code>` a parent stack exports: a CA for `code` under a parent root."""
    root = RegionCaProvider().create({"code": parent_code, "name": "parent"}).outs or {}
    child = (
        RegionCaProvider()
        .create(
            {
                "code": code,
                "name": "child",
                "parent_ca_cert_pem": root["cert_pem"],
                "parent_ca_key_pem": root["key_pem"],
                "parent_chain_pem": root["chain_pem"],
            }
        )
        .outs
        or {}
    )
    return {key: str(child[key]) for key in ("cert_pem", "key_pem", "chain_pem")}


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(
        self, partition: str, region: str, issued_ca: dict[str, dict[str, str]] | None = None
    ) -> None:
        self.partition, self.region = partition, region
        # What the parent stack's reference holds (`child_ca_<code>`), for a city or county.
        self.issued_ca = issued_ca or {}
        self.resources: list[Recorded] = []
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        # Whether the account holds the image layers' AMIs the hosts look up by digest.
        self.layer_amis = True

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ.startswith(DYNAMIC):
            outputs = _dynamic_outputs(dict(args.inputs))
            urn = f"urn:pulumi:test::regionstack::{args.typ}::{args.name}"
            self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), outputs, urn))
            return f"{args.name}-id", outputs
        if args.typ == STACK_REFERENCE:
            return args.name, {"name": args.name, "outputs": self.issued_ca}
        service = args.typ.split(":")[1].split("/")[0]
        outputs = dict(args.inputs)
        outputs.setdefault(
            "arn", f"arn:{self.partition}:{service}:{self.region}:{ACCOUNT}:{args.name}"
        )
        outputs.setdefault("name", args.name)
        defaults: dict[str, dict[str, Any]] = {
            "aws:s3/bucket:Bucket": {"bucket": f"{args.name}-0123abc"},
            "aws:ec2/launchTemplate:LaunchTemplate": {"latestVersion": 1},
            "aws:kms/key:Key": {"keyId": f"{args.name}-key-id"},
            "aws:lb/loadBalancer:LoadBalancer": {"dnsName": f"{args.name}.elb.example"},
            "aws:imagebuilder/image:Image": {
                "outputResources": [
                    {"amis": [{"image": built_ami(args.name), "region": self.region}]}
                ]
            },
        }
        for key, value in defaults.get(args.typ, {}).items():
            outputs.setdefault(key, value)
        resource_id = f"{args.name}-id"
        urn = f"urn:pulumi:test::regionstack::{args.typ}::{args.name}"
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), outputs, urn))
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        self.invokes.append((args.token, dict(args.args)))
        if args.token == "aws:ec2/getAmiIds:getAmiIds":
            return {"id": self.region, "ids": self._ami_ids(dict(args.args))}
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = zones_of(self.region)
            return {"names": names, "zoneIds": [f"z{i}" for i in range(len(names))]}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:{self.partition}:iam::{ACCOUNT}:user/ci"}
        raise AssertionError(f"unexpected invoke {args.token}")

    def _ami_ids(self, query: dict[str, Any]) -> list[str]:
        """The account's images as EC2 would list them: the pinned source AMI exists, a
        layer's AMI only when the account holds the layers (`layer_amis`)."""
        filters = {f["name"]: list(f["values"]) for f in query.get("filters") or []}
        if "image-id" in filters:
            return filters["image-id"]
        digest = filters.get(f"tag:{LAYER_DIGEST_TAG}")
        if digest and self.layer_amis:
            return [layer_ami(digest[0])]
        return []


def layer_ami(digest: str) -> str:
    """The AMI the mocked account holds for a layer digest."""
    return f"ami-{digest[:17]}"


def built_ami(image_name: str) -> str:
    """The AMI a mocked Image Builder image produces."""
    return "ami-" + hashlib.sha256(image_name.encode()).hexdigest()[:17]


class WarningLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Evaluation:
    stack: str
    partition: str
    region: str
    tier: str
    resources: list[Recorded]
    warnings: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str) -> Recorded:
        found = self.of_type(typ)
        assert len(found) == 1, f"{self.stack}: {len(found)} {typ}: {[r.urn for r in found]}"
        return found[0]

    def by_id(self, resource_id: str) -> Recorded:
        return next(r for r in self.resources if f"{r.name}-id" == resource_id)

    def counts(self) -> Counter[str]:
        return Counter(r.typ for r in self.resources)


def selection_of(fleet: Fleet, stack: str) -> StackSelection:
    region = fleet.region(stack)
    config = effective_config(fleet, region)
    return StackSelection(fleet, region, config, digest(config), PROJECT_ROOT)


def evaluate(
    fleet: Fleet, stack: str, inputs: AwsInputs | None = None, *, layer_amis: bool = True
) -> Evaluation:
    selection = selection_of(fleet, stack)
    assert selection.region.aws is not None
    partition, aws_region = selection.region.aws.partition, selection.region.aws.region
    parent = selection.config["region"]["parent"]
    code = selection.region.code
    issued = {f"child_ca_{code}": parent_issued_ca(code, parent["code"])} if parent else {}
    mocks = RecordingMocks(partition, aws_region, issued)
    mocks.layer_amis = layer_amis
    log = logging.getLogger(f"regionstack.tests.aws.{stack}")
    log.propagate = False
    handler = WarningLog()
    log.handlers = [handler]
    pulumi.runtime.set_mocks(mocks, project="regionstack", stack=stack, preview=False, logger=log)
    config = selection.config
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> Any:
        region = Region(
            stack,
            RegionArgs(
                code=selection.region.code,
                name=selection.region.name,
                tier=config["region"]["tier"],
                target="aws",
                effective_config=config,
                config_digest=selection.digest,
            ),
        )
        deployment = deploy_aws(selection, region, inputs or inputs_for(partition, aws_region))
        return pulumi.Output.all(**deployment.outputs).apply(outputs.update)

    run()
    return Evaluation(
        stack,
        partition,
        aws_region,
        config["region"]["tier"],
        mocks.resources,
        handler.messages,
        outputs,
        mocks.invokes,
    )


def strings_in(value: Any) -> list[str]:
    """Every string inside a value, JSON documents (policies) opened up."""
    found: list[str] = []
    if isinstance(value, str):
        found.append(value)
        if value.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                found += strings_in(json.loads(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            found += strings_in(key) + strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found += strings_in(item)
    return found
