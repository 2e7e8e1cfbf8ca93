"""The image layers a region's hosts boot from, as a resource of the region stack.

The layers live in the controller's cache (infra/local/layers/), named by their digests;
this resource makes a stack depend on the digests of the checkout it was deployed from,
and builds the layers the cache lacks (on create, and on update when a role changed).
A machine keeps the layers it was created from (the program gives it `ignore_changes`):
a role's change reaches deployed hosts through the site playbook, new hosts boot from the
new layers. Deleting the resource keeps the cache, as the base image's does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from infra.config.loader import load_fleet
from infra.local.layers import cache
from infra.local.layers.build import current_digests, ensure_layers
from infra.local.layers.errors import LayerError
from modules.props import input_props

INPUT_KEYS = ("project_dir", "digests")


@dataclass
class ImageLayersInputs:
    project_dir: pulumi.Input[str]  # the checkout whose roles bake the layers
    digests: pulumi.Input[dict[str, str]]  # layer -> digest, from infra.local.layers.build


def _outputs(props: dict[str, Any]) -> dict[str, Any]:
    root = Path(props["project_dir"])
    fleet = load_fleet(root / "stacks")
    wanted = dict(props["digests"])
    current = current_digests(root, fleet.standard_data)
    if {name: current[name] for name in wanted} != wanted:
        raise LayerError(
            f"the roles under {root} changed while the stack was deployed from them (the layer "
            "digests differ from the program's): run `pulumi up` again"
        )
    layers = ensure_layers(root, fleet.standard, fleet.standard_data, only=sorted(wanted))
    return {
        **{k: props[k] for k in INPUT_KEYS},
        "roots": {name: str(layers[name].root) for name in wanted},
    }


class ImageLayersProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="layers", outs=_outputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        present = all(
            cache.find(name, digest) is not None
            for name, digest in dict(props.get("digests") or {}).items()
        )
        outs = {**props, "present": present}
        return ReadResult(
            id_=id_, outs=outs, inputs={k: props[k] for k in INPUT_KEYS if k in props}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # The checkout's path is where to build from, not what is built; a pruned layer
        # (present False after a refresh) is built again.
        changed = olds.get("digests") != news.get("digests") or olds.get("present") is False
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_outputs(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Keep the shared cache; see the module docstring."""


class ImageLayers(Resource, module="local", name="ImageLayers"):
    """The layers of the region's components; `roots` maps each to its lowerdir."""

    roots: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: ImageLayersInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ImageLayersProvider(), name, {**input_props(args), "roots": None}, opts)
