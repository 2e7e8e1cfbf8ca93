"""The base image of every local machine: a cached debootstrap of Debian, built from a recipe.

The recipe (packages and post-build steps) is data; its digest names the cached image, so
an image is rebuilt exactly when the recipe changes and is shared by every region on the
controller. The mirror is not part of the recipe: it comes from the controller's own apt
configuration, and any mirror gives the same image.

Cache layout (``${REGIONSTACK_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/regionstack}/images``)::

    base-<digest12>/rootfs/         the root, the read-only overlayfs lowerdir of machines
    base-<digest12>/image.tar       the same root as a tarball, to move or restore it
    base-<digest12>/manifest.json   recipe, digest, build time, sizes, package versions
    .lock                           serializes builds (two `pulumi up` may both ask)
    .build-* .old-* .restore-*      work dirs; never complete, removed by the next build

A build happens in a work dir next to the images and becomes ``base-<digest12>`` by one
rename, so an interrupted build leaves nothing that looks complete. Each host gets its own
SSH host keys, machine-id, hostname, resolver and apt sources when it is created; the image
carries none of them.

The modules, from the bottom of the import graph up: `errors` (the image errors),
`progress` (progress lines, debootstrap's condensed), `recipe` (what is in the image, and
its digest), `mirror` (the controller's apt sources), `cache` (where images live, the
build lock, removal), `status` and `prune` (what `regionstack image status` and `prune`
do), `preflight` (whether this controller can build), `builder` (the commands of one
build) and `build` (cached, restored or built: the entry points).
"""

from __future__ import annotations

from .build import build_image, ensure_image
from .cache import images_dir
from .errors import ImageError, ImageInUseError, ImagePreflightError
from .mirror import MirrorConfig, controller_mirror, controller_security_mirror
from .prune import prune_images
from .recipe import ADMIN_USER, DEFAULT_RECIPE, recipe_digest
from .status import image_status

__all__ = [
    "ADMIN_USER",
    "DEFAULT_RECIPE",
    "ImageError",
    "ImageInUseError",
    "ImagePreflightError",
    "MirrorConfig",
    "build_image",
    "controller_mirror",
    "controller_security_mirror",
    "ensure_image",
    "image_status",
    "images_dir",
    "prune_images",
    "recipe_digest",
]
