"""`regionstack image …`: build, inspect and prune the cached base image of local machines
and the image layers baked on it (infra/local/layers/) for a project's roles: the project
of `--config` (this checkout's by default), as `pulumi up` of that project bakes them.

Exit codes as in infra/cli.py: 0 success; 1 the operation failed (a build error, an image
or layer kept because machines use it, an invalid configuration); 2 the controller cannot
build yet (not root, debootstrap missing, no mirror, disk full), with what to do in the
message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from infra.config.loader import load_fleet
from infra.config.problems import ConfigInvalid
from infra.local.image import (
    ImageError,
    ImageInUseError,
    ImagePreflightError,
    build_image,
    image_status,
    images_dir,
    prune_images,
    recipe_digest,
)
from infra.local.layers import cache as layer_cache
from infra.local.layers.build import current_digests, ensure_layers
from infra.local.layers.errors import LayerError
from infra.local.layers.prune import prune_layers
from infra.local.layers.status import layer_status

# The default project whose roles the layers are baked from: this checkout.
CHECKOUT = Path(__file__).resolve().parents[2]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1024**2:.0f} MiB"


def _guarded(handler: Handler) -> Handler:
    """Turns image errors into a message on stderr and the exit code of their kind."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ImagePreflightError as err:
            print(f"regionstack image: {err}", file=sys.stderr)
            return EXIT_USAGE
        except (ImageError, LayerError, ConfigInvalid, OSError) as err:
            print(f"regionstack image: {err}", file=sys.stderr)
            return EXIT_FAILED

    return run


def project_of(args: argparse.Namespace) -> Path:
    """The project whose layers a command means: the one `--config` belongs to (a copy of
    the project with a changed standard bakes its own layers, not this checkout's)."""
    config: Path | None = getattr(args, "config", None)
    return config.resolve().parent if config is not None else CHECKOUT


def checkout_digests(project: Path = CHECKOUT) -> dict[str, str]:
    """Every layer's digest for the project's roles and its national standard."""
    fleet = load_fleet(project / "stacks")
    return current_digests(project, fleet.standard_data)


def build_layers(project: Path = CHECKOUT) -> list[Path]:
    """The project's layers, cached or built; the root (lowerdir) of each."""
    fleet = load_fleet(project / "stacks")
    layers = ensure_layers(project, fleet.standard, fleet.standard_data)
    return [layer.root for layer in layers.values()]


def cmd_build(args: argparse.Namespace) -> int:
    print(build_image(force=args.force), flush=True)
    if not args.base_only:
        for root in build_layers(project_of(args)):
            print(root)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    images = image_status()
    if not images:
        print(
            f"no images in {images_dir()}; `regionstack image build` builds the current one "
            f"({recipe_digest()[:12]})"
        )
    else:
        print(f"{'IMAGE':<18} {'STATE':<10} {'SIZE':>9}  {'BUILT':<25} IN USE BY")
        for info in images:
            state = "current" if info.current else "stale" if info.complete else "incomplete"
            users = ", ".join(info.in_use_by) or "-"
            print(
                f"{info.name:<18} {state:<10} {_size(info.size_bytes):>9}  "
                f"{info.built_at or '-':<25} {users}"
            )
    layers = layer_status(checkout_digests(project_of(args)))
    if not layers:
        print(f"no layers in {layer_cache.layers_dir()}; `regionstack image build` bakes them")
        return EXIT_OK
    print()
    print(f"{'LAYER':<34} {'STATE':<10} {'SIZE':>9}  {'BUILT':<25} {'TOOK':>6}  IN USE BY")
    for layer in layers:
        took = f"{layer.build_seconds:.0f} s" if layer.build_seconds is not None else "-"
        print(
            f"{layer.dir_name:<34} {'current' if layer.current else 'stale':<10} "
            f"{_size(layer.size_bytes):>9}  {layer.built_at or '-':<25} {took:>6}  "
            f"{', '.join(layer.in_use_by) or '-'}"
        )
    return EXIT_OK


def cmd_prune(args: argparse.Namespace) -> int:
    """Images first, then layers; one kept in use does not stop the rest from going."""
    removed: list[Path] = []
    refused: list[str] = []

    def images() -> list[Path]:
        return prune_images(keep_current=not args.all)

    def layers() -> list[Path]:
        return prune_layers(checkout_digests(project_of(args)), keep_current=not args.all)

    for prune in (images, layers):
        try:
            removed += prune()
        except ImageInUseError as err:
            removed += err.removed
            refused.append(str(err))
    for path in removed:
        print(f"removed {path}")
    for message in refused:
        print(f"regionstack image: {message}", file=sys.stderr)
    if refused:
        return EXIT_FAILED
    if not removed:
        print("nothing to prune")
    return EXIT_OK


def add_image_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register `image build|status|prune` on a parser's subcommands; returns `image`'s parser.

    Each leaf sets `handler` (args -> exit code), as every command of infra/cli.py does.
    """
    help_text = (
        "build, inspect and prune the cached base image of local machines and the image "
        "layers baked on it"
    )
    image = subparsers.add_parser("image", help=help_text, description=help_text)
    commands = image.add_subparsers(dest="image_command", required=True, metavar="ACTION")

    def add(name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(handler=_guarded(handler))
        return sub

    build = add(
        "build",
        cmd_build,
        "build the current image and the checkout's layers unless cached; print the image's "
        "rootfs, then each layer's root",
    )
    build.add_argument(
        "--force",
        action="store_true",
        help="rebuild the base image even if cached (refused while in use)",
    )
    build.add_argument(
        "--base-only", action="store_true", help="build the base image only, not the layers"
    )
    add(
        "status",
        cmd_status,
        "list cached images and layers: current or stale, size, build time, users",
    )
    prune = add(
        "prune",
        cmd_prune,
        "remove stale images and layers not in use, and leftovers of interrupted builds",
    )
    prune.add_argument(
        "--all",
        action="store_true",
        help="remove the current image and layers too (unless in use)",
    )
    return image
