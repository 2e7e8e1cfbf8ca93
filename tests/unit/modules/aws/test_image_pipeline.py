"""The image layers as AMIs (modules/aws/image_pipeline.py) and the hosts that boot them.

Under the mocks: a stack with `regionstack:image_pipeline true` builds one Image Builder
image per layer, named and tagged by its digest, component layers on the base layer's
AMI, every ARN in the stack's partition; the build component removes exactly the per-host
state; and every region stack (`image: baked`, the default) boots each host from the AMI
carrying its component layer's digest, or refuses saying how to build it.
"""

from __future__ import annotations

import dataclasses
import glob
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from infra.aws.bake import scrub_script
from infra.aws.images import LAYER_DIGEST_TAG, LAYER_TAG, ImageMissing, image_name
from infra.aws.mocks import (
    ARN,
    PROJECT_ROOT,
    REAL_STACKS,
    Evaluation,
    Recorded,
    built_ami,
    evaluate,
    inputs_for,
    layer_ami,
    strings_in,
)
from infra.config.loader import Fleet, load_fleet
from infra.layers import BASE, LAYERS, PER_HOST_STATE, layer_digests
from infra.local.layers.scrub import scrub
from infra.program.aws import ADMIN_USER
from tests.unit.aws.stacks import FLEET_DIR

COMPONENT = "aws:imagebuilder/component:Component"
RECIPE = "aws:imagebuilder/imageRecipe:ImageRecipe"
DISTRIBUTION = "aws:imagebuilder/distributionConfiguration:DistributionConfiguration"
IMAGE = "aws:imagebuilder/image:Image"
INSTANCE = "aws:ec2/instance:Instance"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GET_AMI_IDS = "aws:ec2/getAmiIds:getAmiIds"
DEBIAN_OWNER_CN = "210987654321"
# (partition, stack): a province of the test fleet in each partition builds the layers.
BUILDERS = [("aws-cn", "ningxia"), ("aws", "zhejiang")]
BUILDER_IDS = [p for p, _ in BUILDERS]
builders = pytest.mark.parametrize(("partition", "stack"), BUILDERS, ids=BUILDER_IDS)


def digests_of(evaluation: Evaluation, fleet: Fleet) -> dict[str, str]:
    """The digests the program must use: the checkout on the pinned source AMI."""
    source = inputs_for(evaluation.partition, evaluation.region).ami_id
    return layer_digests(PROJECT_ROOT, source, fleet.standard_data, "aws", ADMIN_USER)


@pytest.fixture(scope="module")
def building(aws_fleet: Fleet) -> Callable[[str], Evaluation]:
    """`building(stack)`: the stack evaluated with `regionstack:image_pipeline true`."""
    cache: dict[str, Evaluation] = {}

    def get(stack: str) -> Evaluation:
        if stack not in cache:
            region = aws_fleet.region(stack)
            assert region.aws is not None
            inputs = dataclasses.replace(
                inputs_for(region.aws.partition, region.aws.region),
                image_pipeline=True,
                debian_owner=DEBIAN_OWNER_CN if region.aws.partition == "aws-cn" else None,
            )
            cache[stack] = evaluate(aws_fleet, stack, inputs)
        return cache[stack]

    return get


def of_layer(evaluation: Evaluation, typ: str, layer: str) -> Recorded:
    suffix = {COMPONENT: "component", RECIPE: "recipe", DISTRIBUTION: "distribution"}
    name = f"{evaluation.stack}-images-{layer}-{suffix.get(typ, 'image')}"
    found = [r for r in evaluation.of_type(typ) if r.name == name]
    assert len(found) == 1, f"{evaluation.stack}: no {typ} {name}: {evaluation.counts()}"
    return found[0]


@builders
def test_every_layer_has_a_recipe_named_by_its_digest(
    building: Callable[[str], Evaluation], aws_fleet: Fleet, partition: str, stack: str
) -> None:
    evaluation = building(stack)
    digests = digests_of(evaluation, aws_fleet)
    assert len(evaluation.of_type(RECIPE)) == len(LAYERS)
    for layer in LAYERS:
        wanted = image_name(layer.name, digests[layer.name])
        for typ in (COMPONENT, RECIPE, DISTRIBUTION):
            resource = of_layer(evaluation, typ, layer.name)
            assert resource.inputs["name"] == wanted, resource.urn


@builders
def test_every_ami_is_named_and_tagged_with_its_digest(
    building: Callable[[str], Evaluation], aws_fleet: Fleet, partition: str, stack: str
) -> None:
    evaluation = building(stack)
    digests = digests_of(evaluation, aws_fleet)
    for layer in LAYERS:
        digest = digests[layer.name]
        distribution = of_layer(evaluation, DISTRIBUTION, layer.name)
        (target,) = distribution.inputs["distributions"]
        assert target["region"] == evaluation.region, distribution.urn
        ami = target["amiDistributionConfiguration"]
        assert ami["name"].startswith(image_name(layer.name, digest) + "-"), distribution.urn
        assert ami["amiTags"][LAYER_DIGEST_TAG] == digest, distribution.urn
        assert ami["amiTags"][LAYER_TAG] == layer.name, distribution.urn
        image = of_layer(evaluation, IMAGE, layer.name)
        assert image.tags[LAYER_DIGEST_TAG] == digest, image.urn


@builders
def test_component_layers_build_on_the_base_layers_ami(
    building: Callable[[str], Evaluation], partition: str, stack: str
) -> None:
    evaluation = building(stack)
    base_ami = built_ami(of_layer(evaluation, IMAGE, BASE).name)
    source = inputs_for(evaluation.partition, evaluation.region).ami_id
    for layer in LAYERS:
        recipe = of_layer(evaluation, RECIPE, layer.name)
        expected = source if layer.parent is None else base_ami
        assert recipe.inputs["parentImage"] == expected, recipe.urn


@builders
def test_every_arn_of_the_pipeline_is_in_the_stacks_partition(
    building: Callable[[str], Evaluation], partition: str, stack: str
) -> None:
    evaluation = building(stack)
    pipeline = [r for r in evaluation.resources if f"{stack}-images" in r.urn]
    arns = [(r, s) for r in pipeline for s in strings_in(r.inputs) if ARN.match(s)]
    policies = {s for _, s in arns if ":iam::aws:policy/" in s}
    assert policies == {
        f"arn:{partition}:iam::aws:policy/EC2InstanceProfileForImageBuilder",
        f"arn:{partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
    }
    assert any(":s3:::" in s for _, s in arns), "the build role reads no bucket"
    for resource, arn in arns:
        assert ARN.match(arn).group(1) == partition, f"{resource.urn}: {arn}"  # type: ignore[union-attr]


def test_aws_cn_needs_the_debian_owner(aws_fleet: Fleet) -> None:
    inputs = dataclasses.replace(
        inputs_for("aws-cn", "cn-northwest-1"), image_pipeline=True, debian_owner=None
    )
    with pytest.raises(pulumi.RunError, match="regionstack:debian_owner"):
        evaluate(aws_fleet, "ningxia", inputs)


@builders
def test_the_source_ami_must_be_the_owners_debian_image(
    building: Callable[[str], Evaluation], partition: str, stack: str
) -> None:
    evaluation = building(stack)
    source = inputs_for(evaluation.partition, evaluation.region).ami_id
    lookups = [a for t, a in evaluation.invokes if t == GET_AMI_IDS and a.get("owners") != ["self"]]
    assert len(lookups) == 1, lookups
    owner = DEBIAN_OWNER_CN if partition == "aws-cn" else "136693071363"
    filters = {f["name"]: f["values"] for f in lookups[0]["filters"]}
    assert lookups[0]["owners"] == [owner]
    assert filters["image-id"] == [source] and filters["name"] == ["debian-12-*"]


def _steps(component: Recorded) -> dict[str, Any]:
    document = yaml.safe_load(component.inputs["data"])
    (build,) = document["phases"]
    return {step["name"]: step for step in build["steps"]}


@builders
def test_each_component_runs_the_bake_tasks_with_its_layers_inventory(
    building: Callable[[str], Evaluation], partition: str, stack: str
) -> None:
    evaluation = building(stack)
    for layer in LAYERS:
        component = of_layer(evaluation, COMPONENT, layer.name)
        steps = _steps(component)
        assert list(steps) == [
            "FetchSources",
            "InstallAnsible",
            "Bake",
            "RemoveBuildTools",
            "RemovePerHostState",
        ], component.urn
        (command,) = steps["Bake"]["inputs"]["commands"]
        assert (
            f"-i inventory/{layer.name}.yml playbooks/site.yml --tags bake "
            "-e regionstack_bake=true" in command
        ), component.urn
        (fetch,) = steps["FetchSources"]["inputs"]
        assert fetch["source"].startswith("s3://"), component.urn


def _materialise(root: Path) -> None:
    """One path matching every per-host pattern, and neighbours that match none."""
    for state in PER_HOST_STATE:
        path = root / state.pattern.replace("*", "x")
        if path.name in {"main", ".ssh", "mnesia"}:  # directories with content
            (path / "inner").mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("per-host\n")
    for kept in (
        "etc/ssh/sshd_config",
        "etc/hostname.d/keep",
        "home/admin/.ssh/config",
        "var/log/journal",
        "var/lib/apt/lists",
        "tmp/.X11-unix",
        "etc/postgresql/15/conf.d",
        "var/lib/systemd/linger",
    ):
        (root / kept).parent.mkdir(parents=True, exist_ok=True)
        (root / kept).mkdir(exist_ok=True)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@builders
def test_the_build_removes_exactly_the_per_host_state(
    building: Callable[[str], Evaluation], tmp_path: Path, partition: str, stack: str
) -> None:
    """The component's scrub, run on a tree, leaves what the local target's scrub leaves."""
    component = of_layer(building(stack), COMPONENT, BASE)
    (script,) = _steps(component)["RemovePerHostState"]["inputs"]["commands"]
    assert script == scrub_script(), component.urn
    aws_root, local_root = tmp_path / "aws", tmp_path / "local"
    for root in (aws_root, local_root):
        _materialise(root)
    before = _tree(aws_root)
    subprocess.run(["bash", "-c", script, "scrub", str(aws_root)], check=True)
    scrub(local_root)
    assert _tree(aws_root) == _tree(local_root), component.urn
    assert _tree(aws_root) < before, component.urn
    for state in PER_HOST_STATE:
        # glob.glob, as the shell and the local scrub: `*` does not match a dotfile.
        assert not glob.glob(str(aws_root / state.pattern)), f"{component.urn}: {state.pattern}"


@pytest.mark.parametrize("stack", ["ningxia", "chunan"], ids=["aws-cn", "aws"])
def test_hosts_boot_their_layers_ami_found_by_its_digest(
    evaluated: Callable[[str], Evaluation], aws_fleet: Fleet, stack: str
) -> None:
    evaluation = evaluated(stack)
    digests = digests_of(evaluation, aws_fleet)
    lookups = [a for t, a in evaluation.invokes if t == GET_AMI_IDS]
    looked_up = {
        f["values"][0]
        for a in lookups
        for f in a["filters"]
        if f["name"].endswith(LAYER_DIGEST_TAG)
    }
    assert all(a["owners"] == ["self"] for a in lookups), lookups
    hosts = [(r, r.inputs["ami"]) for r in evaluation.of_type(INSTANCE)] + [
        (r, r.inputs["imageId"]) for r in evaluation.of_type(TEMPLATE)
    ]
    assert hosts
    for host, ami in hosts:
        digest = digests[host.tags["regionstack:role"]]
        assert digest in looked_up, host.urn
        assert ami == layer_ami(digest), host.urn
    assert evaluation.outputs["image_layers"] == {
        component: digests[component] for component in evaluation.outputs["image_layers"]
    }


def test_a_missing_layer_ami_is_refused_with_the_next_step(aws_fleet: Fleet) -> None:
    with pytest.raises(ImageMissing, match="regionstack:image_pipeline true"):
        evaluate(aws_fleet, "xingqing", layer_amis=False)


@pytest.fixture(scope="module")
def bare_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """The aws test fleet with every region on `image: bare`."""
    root = tmp_path_factory.mktemp("bare-fleet") / "stacks"
    (root / "regions").mkdir(parents=True)
    shutil.copy(REAL_STACKS / "standard.yaml", root / "standard.yaml")
    shutil.copytree(REAL_STACKS / "tiers", root / "tiers")
    for path in FLEET_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text("utf-8"))
        for region in data["regions"]:
            region["aws"]["image"] = "bare"
        (root / "regions" / path.name).write_text(yaml.safe_dump(data, allow_unicode=True))
    return load_fleet(root)


def test_a_bare_region_boots_the_debian_ami(bare_fleet: Fleet) -> None:
    evaluation = evaluate(bare_fleet, "chunan")
    source = inputs_for(evaluation.partition, evaluation.region).ami_id
    assert not [a for t, a in evaluation.invokes if t == GET_AMI_IDS]
    for host in evaluation.of_type(INSTANCE):
        assert host.inputs["ami"] == source, host.urn
    assert evaluation.outputs["image_layers"] == {}
