"""The base image every local host boots from, as a resource of the region stack.

The image itself lives in the shared cache (infra/local/image/) keyed by the digest of
its recipe; this resource makes a stack depend on one digest. A new recipe means a new
digest, a new rootfs path, and so new machines - exactly as a new golden AMI would.
Deleting the resource keeps the cache: other regions may boot from it, and
`regionstack image prune` is the explicit way to drop stale images.
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

from infra.local.image.build import ensure_image
from modules.props import input_props, untyped_alias


@dataclass
class ImageInputs:
    digest: pulumi.Input[str]


def _outputs(props: dict[str, Any]) -> dict[str, Any]:
    rootfs = ensure_image()
    return {"digest": props["digest"], "rootfs": str(rootfs), "present": True}


class ImageProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=props["digest"], outs=_outputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        present = Path(props.get("rootfs", "")).is_dir()
        return ReadResult(
            id_=id_, outs={**props, "present": present}, inputs={"digest": props["digest"]}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A new recipe is a new image: every machine booted from the old one is replaced
        # through its rootfs input. A pruned cache (present False) is rebuilt in place.
        if olds.get("digest") != news.get("digest"):
            return DiffResult(changes=True, replaces=["digest"])
        return DiffResult(changes=olds.get("present") is False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_outputs(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Keep the shared cache; see the module docstring."""


class Image(Resource, module="local", name="Image"):
    rootfs: pulumi.Output[str]

    def __init__(
        self, name: str, args: ImageInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            ImageProvider(),
            name,
            {
                **input_props(args),
                "rootfs": None,
                "present": None,
            },
            untyped_alias(opts),
        )
