"""A local host: an overlayfs clone of the image, booted by systemd-nspawn on the region bridge.

The resource and its provider; what a machine is on the controller (its state dir, upper
dir, overlay, power and teardown) is the mechanism in infra/local/machine/, which the
bake's build hosts use too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from infra.local import ownership
from infra.local.machine import lifecycle
from infra.local.machine.inputs import INPUT_KEYS, input_values, normalize, problems
from infra.local.machine.state import DEFAULT_STATE_ROOT, owner, recover, state_dir
from infra.local.machine.teardown import teardown
from modules.props import DriftRepairProvider, input_props

# Who may log in is rewritten in place (authorized_keys), like any key rotation on a VM.
UPDATE_KEYS = ("admin_user", "admin_public_key")
# Every other input is the machine's identity (name, stack, address, network) or its disk
# (rootfs, layers, state_root): changing one is a different host, built from scratch. The
# old one goes first because the new one reuses its name, cgroups, veth and, usually, its
# address.
REPLACE_KEYS = tuple(key for key in INPUT_KEYS if key not in UPDATE_KEYS)


@dataclass
class MachineInputs:
    name: pulumi.Input[str]  # the hostname and the nspawn machine name
    stack: pulumi.Input[str]
    address: pulumi.Input[str]
    prefix_length: pulumi.Input[int]
    gateway: pulumi.Input[str]  # the bridge's address: default route, DNS
    bridge: pulumi.Input[str]
    rootfs: pulumi.Input[str]  # the image's root, the overlay's read-only lowerdir
    admin_user: pulumi.Input[str]  # must exist in the image's /etc/passwd
    admin_public_key: pulumi.Input[str]  # one authorized_keys line
    dns_domain: pulumi.Input[str]  # `<stack>.internal`
    state_root: pulumi.Input[str] = DEFAULT_STATE_ROOT
    # Image layers above the image (infra/local/layers/), topmost first; none: the bare image.
    layers: pulumi.Input[list[str]] = field(default_factory=list)


class MachineProvider(DriftRepairProvider):
    REPLACE_KEYS = REPLACE_KEYS
    UPDATE_KEYS = UPDATE_KEYS
    # A refresh that found the machine down leaves running False: update powers it on.
    HEALTH_KEY = "running"

    def normalize(self, props: dict[str, Any]) -> dict[str, Any]:
        return normalize(props)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(key, reason) for key, reason in problems(normalize(news))]
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = lifecycle.create(props)
        return CreateResult(id_=f"{props['stack']}:{props['name']}", outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = normalize(props if props.get("name") else recover(id_))
        directory = state_dir(props)
        if not ownership.is_owned(directory, owner(props)):
            return ReadResult(id_="", outs={})  # gone: refresh drops it, `up` creates it anew
        return ReadResult(
            id_=id_, outs=lifecycle.outputs(props, directory), inputs=input_values(props)
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=lifecycle.update(olds, news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        teardown(normalize(props))


class Machine(Resource, module="local", name="Machine"):
    """A local host booted with systemd-nspawn; `running` is False after drift.

    Its type is `pulumi-python:dynamic/local:Machine`, as every dynamic resource names its
    own, so previews and policies can tell them apart. It has had that type since it was
    written, so it needs no alias to `UNTYPED`.
    """

    address: pulumi.Output[str]
    machine_id: pulumi.Output[str]
    ssh_host_ed25519_public_key: pulumi.Output[str]
    state_dir: pulumi.Output[str]
    running: pulumi.Output[bool]
    layers: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: MachineInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = input_props(args)
        outs = ("machine_id", "ssh_host_ed25519_public_key", "state_dir", "running")
        super().__init__(MachineProvider(), name, {**props, **dict.fromkeys(outs)}, opts)
