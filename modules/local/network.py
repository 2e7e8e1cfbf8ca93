"""A local region's network: its Linux bridge and the services on its gateway address.

The resource and its provider; the bridge and the gateway's daemons (what they are, how
they are made, checked and removed) are the mechanism in infra/local/network.py, which
the bake's build network uses too.

Lifecycle: create refuses, before it creates anything, a CIDR that another route of the
controller already covers; read reports `healthy` (bridge with our alias and address, each
daemon alive), so `pulumi refresh` shows a vanished bridge or a dead daemon as drift and
the next `pulumi up` repairs it; delete is idempotent and leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from infra.local.network import (
    DEFAULT_STATE_ROOT,
    apply,
    bridge_ok,
    input_values,
    normalize,
    preflight,
    services_ok,
    teardown,
    validate,
)
from modules.props import DriftRepairProvider, input_props, untyped_alias

# These name or address the bridge and the daemons' sockets and files: changing one is a
# different network, and the old one must go first because the new one reuses its names.
REPLACE_KEYS = ("stack", "bridge", "cidr", "gateway", "prefix_length", "state_root")
# These only change what the daemons serve: rewrite their configuration and restart them.
UPDATE_KEYS = ("hosts", "dns_domain", "apt_upstream", "apt_security_upstream", "apt_cache_dir")


@dataclass
class NetworkInputs:
    stack: pulumi.Input[str]
    bridge: pulumi.Input[str]
    cidr: pulumi.Input[str]
    gateway: pulumi.Input[str]
    prefix_length: pulumi.Input[int]
    hosts: pulumi.Input[dict[str, str]]  # host name -> address, for DNS
    dns_domain: pulumi.Input[str]  # `<stack>.internal`
    apt_upstream: pulumi.Input[str]  # the Debian mirror URI the controller's apt uses
    state_root: pulumi.Input[str] = DEFAULT_STATE_ROOT
    # The controller's Debian security archive, when its apt has one.
    apt_security_upstream: pulumi.Input[str] | None = None
    # Where the gateway's apt proxy keeps packages across deployments (None: in state_root).
    apt_cache_dir: pulumi.Input[str] | None = None


class NetworkProvider(DriftRepairProvider):
    REPLACE_KEYS = REPLACE_KEYS
    UPDATE_KEYS = UPDATE_KEYS
    # A refresh that found the bridge or a daemon gone leaves healthy False: update
    # recreates what is missing.
    HEALTH_KEY = "healthy"

    def normalize(self, props: dict[str, Any]) -> dict[str, Any]:
        return normalize(props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        props = normalize(props)
        validate(props)
        preflight(props)
        try:
            outs = apply(props)
        except Exception:
            # Nothing half-built may outlive a failed create: Pulumi records no state for
            # it, so nothing would ever delete it.
            teardown(props)
            raise
        return CreateResult(id_=f"{props['stack']}:{props['bridge']}", outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = normalize(props)
        pids = services_ok(props) if bridge_ok(props) else None
        outs = {
            **input_values(props),
            "pids": pids or dict(props.get("pids") or {}),
            "healthy": pids is not None,
        }
        return ReadResult(id_=id_, outs=outs, inputs=input_values(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        props = normalize({**news, "pids": olds.get("pids")})
        validate(props)
        if not bridge_ok(props):
            preflight(props)
        return UpdateResult(outs=apply(props))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        teardown(normalize(props))


class Network(Resource, module="local", name="Network"):
    """A region's bridge and gateway services; `healthy` is False after drift."""

    bridge: pulumi.Output[str]
    gateway: pulumi.Output[str]
    cidr: pulumi.Output[str]
    pids: pulumi.Output[dict[str, int]]
    healthy: pulumi.Output[bool]

    def __init__(
        self, name: str, args: NetworkInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            NetworkProvider(),
            name,
            {**input_props(args), "pids": None, "healthy": None},
            untyped_alias(opts),
        )
