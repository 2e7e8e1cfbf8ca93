"""`regionstack image build|status|prune`: output, exit codes and usage errors."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.local import image_cli
from infra.local.image.errors import ImageError, ImageInUseError, ImagePreflightError
from infra.local.image.status import image_status
from tests.unit.local.image.fakes import CURRENT, STALE, make_image


@pytest.fixture
def images(tmp_path: Path) -> Path:
    directory = tmp_path / "images"
    directory.mkdir()
    return directory


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
    calls: list[bool] = []

    def prune(keep_current: bool) -> list[Path]:
        calls.append(keep_current)
        return [Path("/c/x")]

    monkeypatch.setattr(image_cli, "prune_images", prune)
    args = parse(*argv)
    assert args.handler(args) == 0
    assert calls == [keep_current]
    assert capsys.readouterr().out == "removed /c/x\n"


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
    args = parse("image", "prune")
    assert args.handler(args) == 1
    out, err = capsys.readouterr()
    assert out == "removed /c/old\n"
    assert "regionstack image: kept base-0123 is in use: the overlay at /m" in err


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
    args = parse(*argv)
    assert args.handler(args) == 0
    assert capsys.readouterr().out == f"/c/{force}/rootfs\n"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ImagePreflightError("debootstrap is not installed: run `apt-get install debootstrap`"), 2),
        (ImageError("debootstrap of bookworm failed"), 1),
        (PermissionError(13, "Permission denied", "/c/images/.lock"), 1),
    ],
    ids=["preflight", "build-failed", "os-error"],
)
def test_cli_build_errors_have_exit_codes(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
    code: int,
) -> None:
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
    args = parse("image", "status")
    assert args.handler(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["IMAGE", "STATE", "SIZE", "BUILT", "IN", "USE", "BY"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["base-fedcba987654", "incomplete", "0", "MiB"],
        ["base-0123456789ab", "stale", "5", "MiB"],
        [f"base-{CURRENT[:12]}", "current", "5", "MiB"],
    ]


def test_cli_status_of_an_empty_cache_says_how_to_build(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(image_cli, "image_status", lambda: [])
    args = parse("image", "status")
    assert args.handler(args) == 0
    assert f"`regionstack image build` builds the current one ({CURRENT[:12]})" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "argv",
    [("image",), ("image", "frobnicate"), ("image", "status", "--force"), ("image", "build", "x")],
    ids=["no-action", "unknown-action", "unknown-flag", "extra-argument"],
)
def test_cli_usage_errors_exit_2(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(*argv)
    assert exit_.value.code == 2
