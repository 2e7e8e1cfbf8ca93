"""`regionstack image build|status|prune`: output, exit codes and usage errors, for the base
image and the layers."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.layers import LAYERS
from infra.local import image_cli
from infra.local.image.errors import ImageError, ImageInUseError, ImagePreflightError
from infra.local.image.status import image_status
from infra.local.layers.cache import CachedLayer
from infra.local.layers.errors import LayerError
from infra.local.layers.prune import prune_layers
from infra.local.layers.status import layer_status
from tests.unit.local.image.fakes import CURRENT, STALE, make_image
from tests.unit.local.layers import fakes as layer_fakes


@pytest.fixture
def images(tmp_path: Path) -> Path:
    directory = tmp_path / "images"
    directory.mkdir()
    return directory


# The real ones, before the fixture below replaces them in every test.
CHECKOUT_DIGESTS, BUILD_LAYERS = image_cli.checkout_digests, image_cli.build_layers


@pytest.fixture(autouse=True)
def checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layers' digests of a fixed checkout, and no real layer build or prune."""
    monkeypatch.setattr(
        image_cli, "checkout_digests", lambda project=None: dict(layer_fakes.CURRENT)
    )
    monkeypatch.setattr(image_cli, "build_layers", raises(AssertionError("a real layer build")))
    monkeypatch.setattr(image_cli, "prune_layers", lambda current, keep_current: [])


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="regionstack")
    image_cli.add_image_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def raises(err: BaseException) -> Callable[..., Any]:
    def fail(*args: object, **kwargs: object) -> Any:
        raise err

    return fail


@pytest.mark.parametrize(
    ("argv", "keep_current"),
    [(("image", "prune"), True), (("image", "prune", "--all"), False)],
    ids=["prune", "prune-all"],
)
def test_cli_prune(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    keep_current: bool,
) -> None:
    calls: list[tuple[str, bool]] = []

    def prune(keep_current: bool) -> list[Path]:
        calls.append(("images", keep_current))
        return [Path("/c/x")]

    def prune_layers(current: dict[str, str], keep_current: bool) -> list[Path]:
        assert current == layer_fakes.CURRENT
        calls.append(("layers", keep_current))
        return [Path("/c/layers/portal-0123")]

    monkeypatch.setattr(image_cli, "prune_images", prune)
    monkeypatch.setattr(image_cli, "prune_layers", prune_layers)
    args = parse(*argv)
    assert args.handler(args) == 0
    assert calls == [("images", keep_current), ("layers", keep_current)]
    assert capsys.readouterr().out == "removed /c/x\nremoved /c/layers/portal-0123\n"


def test_cli_prune_with_nothing_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(image_cli, "prune_images", lambda keep_current: [])
    args = parse("image", "prune")
    assert args.handler(args) == 0
    assert capsys.readouterr().out == "nothing to prune\n"


def test_cli_prune_of_an_image_in_use_fails_after_removing_the_rest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = ImageInUseError("kept base-0123 is in use: the overlay at /m", [Path("/c/old")])
    monkeypatch.setattr(image_cli, "prune_images", raises(error))
    monkeypatch.setattr(image_cli, "prune_layers", lambda current, keep_current: [Path("/c/l")])
    args = parse("image", "prune")
    assert args.handler(args) == 1
    out, err = capsys.readouterr()
    assert out == "removed /c/old\nremoved /c/l\n"
    assert "regionstack image: kept base-0123 is in use: the overlay at /m" in err


def test_cli_prune_of_a_layer_in_use_fails_after_removing_the_rest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = ImageInUseError("not removed: portal-0123 is in use by the machines a/b", [])
    monkeypatch.setattr(image_cli, "prune_images", lambda keep_current: [Path("/c/old")])
    monkeypatch.setattr(image_cli, "prune_layers", raises(error))
    args = parse("image", "prune")
    assert args.handler(args) == 1
    out, err = capsys.readouterr()
    assert out == "removed /c/old\n"
    assert err == "regionstack image: not removed: portal-0123 is in use by the machines a/b\n"


def test_cli_prune_removes_fake_stale_layers_from_a_cache(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stale = layer_fakes.make_layer(tmp_path, "portal", layer_fakes.STALE)
    current = layer_fakes.make_layer(tmp_path, "portal", layer_fakes.CURRENT["portal"])
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("")

    def prune(current: dict[str, str], keep_current: bool) -> list[Path]:
        return prune_layers(
            current, keep_current, cache_dir=tmp_path, state_root=tmp_path, mountinfo=mountinfo
        )

    monkeypatch.setattr(image_cli, "prune_images", lambda keep_current: [])
    monkeypatch.setattr(image_cli, "prune_layers", prune)
    args = parse("image", "prune")
    assert args.handler(args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"removed {stale.path}"
    assert current.path.is_dir() and not stale.path.exists()


@pytest.mark.parametrize(
    ("argv", "force"),
    [(("image", "build"), False), (("image", "build", "--force"), True)],
    ids=["build", "build-force"],
)
def test_cli_build_prints_the_rootfs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    force: bool,
) -> None:
    monkeypatch.setattr(image_cli, "build_image", lambda force: Path(f"/c/{force}/rootfs"))
    monkeypatch.setattr(image_cli, "build_layers", lambda project: [Path("/c/layers/base-b/root")])
    args = parse(*argv)
    assert args.handler(args) == 0
    assert capsys.readouterr().out == f"/c/{force}/rootfs\n/c/layers/base-b/root\n"


def test_cli_build_base_only_builds_no_layer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(image_cli, "build_image", lambda force: Path("/c/rootfs"))
    args = parse("image", "build", "--base-only")
    assert args.handler(args) == 0
    assert capsys.readouterr().out == "/c/rootfs\n"


def test_cli_build_of_layers_prints_each_layers_root_in_order(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def ensure_layers(root: Path, standard: object, standard_data: object) -> dict[str, Any]:
        assert root == image_cli.CHECKOUT
        return {
            layer.name: CachedLayer(layer.name, "0" * 64, tmp_path / layer.name, {})
            for layer in LAYERS
        }

    monkeypatch.setattr(image_cli, "build_layers", BUILD_LAYERS)  # on a fake ensure_layers
    monkeypatch.setattr(image_cli, "build_image", lambda force: Path("/c/rootfs"))
    monkeypatch.setattr(image_cli, "ensure_layers", ensure_layers)
    args = parse("image", "build")
    assert args.handler(args) == 0
    assert capsys.readouterr().out.splitlines() == [
        "/c/rootfs",
        *(str(tmp_path / layer.name / "root") for layer in LAYERS),
    ]


def test_cli_build_bakes_the_layers_of_the_configurations_project(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A copy of the project with a changed standard bakes its own layers, not the checkout's.
    project = tmp_path / "copy"
    shutil.copytree(image_cli.CHECKOUT / "stacks", project / "stacks")
    baked: list[Path] = []

    def ensure_layers(root: Path, standard: object, standard_data: object) -> dict[str, Any]:
        baked.append(root)
        return {}

    monkeypatch.setattr(image_cli, "build_layers", BUILD_LAYERS)
    monkeypatch.setattr(image_cli, "build_image", lambda force: Path("/c/rootfs"))
    monkeypatch.setattr(image_cli, "ensure_layers", ensure_layers)
    args = parse("image", "build")
    args.config = project / "stacks"  # the top-level --config of infra/cli.py
    assert args.handler(args) == 0
    assert baked == [project]
    assert image_cli.project_of(parse("image", "status")) == image_cli.CHECKOUT


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ImagePreflightError("debootstrap is not installed: run `apt-get install debootstrap`"), 2),
        (ImageError("debootstrap of bookworm failed"), 1),
        (PermissionError(13, "Permission denied", "/c/images/.lock"), 1),
        (LayerError("baking the layers failed: the portal play failed"), 1),
    ],
    ids=["preflight", "build-failed", "os-error", "bake-failed"],
)
def test_cli_build_errors_have_exit_codes(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
    code: int,
) -> None:
    monkeypatch.setattr(image_cli, "build_image", lambda force: Path("/c/rootfs"))
    monkeypatch.setattr(image_cli, "build_layers", raises(error))
    if not isinstance(error, LayerError):
        monkeypatch.setattr(image_cli, "build_image", raises(error))
    args = parse("image", "build")
    assert args.handler(args) == code
    assert capsys.readouterr().err == f"regionstack image: {error}\n"


def test_cli_status_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], images: Path
) -> None:
    make_image(images, STALE)
    make_image(images, CURRENT)
    make_image(images, "fedcba987654" + "0" * 52, complete=False)
    monkeypatch.setattr(image_cli, "image_status", lambda: image_status(cache_dir=images))
    monkeypatch.setattr(image_cli, "layer_status", lambda current: [])
    args = parse("image", "status")
    assert args.handler(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["IMAGE", "STATE", "SIZE", "BUILT", "IN", "USE", "BY"]
    assert [line.split()[:4] for line in lines[1:4]] == [
        ["base-fedcba987654", "incomplete", "0", "MiB"],
        ["base-0123456789ab", "stale", "5", "MiB"],
        [f"base-{CURRENT[:12]}", "current", "5", "MiB"],
    ]
    assert lines[4].startswith("no layers in ")


def test_cli_status_lists_the_layers_after_the_images(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state, mountinfo = tmp_path / "state", tmp_path / "mountinfo"
    mountinfo.write_text("")
    base = layer_fakes.make_layer(tmp_path, "base", layer_fakes.CURRENT["base"])
    portal = layer_fakes.make_layer(tmp_path, "portal", layer_fakes.CURRENT["portal"])
    layer_fakes.make_layer(
        tmp_path, "portal", layer_fakes.STALE, built_at="2026-01-01T00:00:00+00:00"
    )
    layer_fakes.make_machine(state, "chunan", "chunan-portal-1", portal, base)
    monkeypatch.setattr(image_cli, "image_status", lambda: [])

    def status(current: dict[str, str]) -> list[Any]:
        assert current == layer_fakes.CURRENT
        return layer_status(current, cache_dir=tmp_path, state_root=state, mountinfo=mountinfo)

    monkeypatch.setattr(image_cli, "layer_status", status)
    args = parse("image", "status")
    assert args.handler(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("no images in ")
    assert lines[2].split() == ["LAYER", "STATE", "SIZE", "BUILT", "TOOK", "IN", "USE", "BY"]
    rows = [line.split() for line in lines[3:]]
    assert [row[:4] for row in rows] == [
        [f"base-{'b' * 12}", "current", "3", "MiB"],
        ["portal-0123456789ab", "stale", "3", "MiB"],
        [f"portal-{'a' * 12}", "current", "3", "MiB"],
    ]
    user, built = "chunan/chunan-portal-1", "2026-01-02T00:00:00+00:00"
    assert [row[4:] for row in rows] == [
        [built, "312", "s", user],
        ["2026-01-01T00:00:00+00:00", "312", "s", "-"],
        [built, "312", "s", user],
    ]


def test_cli_status_of_an_empty_cache_says_how_to_build(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(image_cli, "image_status", lambda: [])
    monkeypatch.setattr(image_cli, "layer_status", lambda current: [])
    args = parse("image", "status")
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert f"`regionstack image build` builds the current one ({CURRENT[:12]})" in out
    assert "; `regionstack image build` bakes them" in out


def test_the_checkouts_digests_name_every_layer() -> None:
    assert sorted(CHECKOUT_DIGESTS()) == sorted(layer.name for layer in LAYERS)


@pytest.mark.parametrize(
    "argv",
    [("image",), ("image", "frobnicate"), ("image", "status", "--force"), ("image", "build", "x")],
    ids=["no-action", "unknown-action", "unknown-flag", "extra-argument"],
)
def test_cli_usage_errors_exit_2(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(*argv)
    assert exit_.value.code == 2
