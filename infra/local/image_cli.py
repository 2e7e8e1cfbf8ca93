"""`regionstack image …`: build, inspect and prune the cached base image of local machines.

Exit codes as in infra/cli.py: 0 success; 1 the operation failed (a build error, an image
kept because machines use it); 2 the controller cannot build yet (not root, debootstrap
missing, no mirror, disk full), with what to do in the message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

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
        except (ImageError, OSError) as err:
            print(f"regionstack image: {err}", file=sys.stderr)
            return EXIT_FAILED

    return run


def cmd_build(args: argparse.Namespace) -> int:
    print(build_image(force=args.force))
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    images = image_status()
    if not images:
        print(
            f"no images in {images_dir()}; `regionstack image build` builds the current one "
            f"({recipe_digest()[:12]})"
        )
        return EXIT_OK
    print(f"{'IMAGE':<18} {'STATE':<10} {'SIZE':>9}  {'BUILT':<25} IN USE BY")
    for info in images:
        state = "current" if info.current else "stale" if info.complete else "incomplete"
        users = ", ".join(info.in_use_by) or "-"
        print(
            f"{info.name:<18} {state:<10} {_size(info.size_bytes):>9}  "
            f"{info.built_at or '-':<25} {users}"
        )
    return EXIT_OK


def cmd_prune(args: argparse.Namespace) -> int:
    try:
        removed = prune_images(keep_current=not args.all)
    except ImageInUseError as err:
        for path in err.removed:
            print(f"removed {path}")
        raise
    for path in removed:
        print(f"removed {path}")
    if not removed:
        print("nothing to prune")
    return EXIT_OK


def add_image_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register `image build|status|prune` on a parser's subcommands; returns `image`'s parser.

    Each leaf sets `handler` (args -> exit code), as every command of infra/cli.py does.
    """
    help_text = "build, inspect and prune the cached base image of local machines"
    image = subparsers.add_parser("image", help=help_text, description=help_text)
    commands = image.add_subparsers(dest="image_command", required=True, metavar="ACTION")

    def add(name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(handler=_guarded(handler))
        return sub

    build = add("build", cmd_build, "build the current image unless cached; print its rootfs")
    build.add_argument(
        "--force", action="store_true", help="rebuild even if cached (refused while in use)"
    )
    add("status", cmd_status, "list cached images: current or stale, size, build time, users")
    prune = add("prune", cmd_prune, "remove stale images and leftovers of interrupted builds")
    prune.add_argument(
        "--all", action="store_true", help="remove the current image too (unless in use)"
    )
    return image
