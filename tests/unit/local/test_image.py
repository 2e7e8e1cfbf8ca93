"""The base image pipeline without building: recipe digest, mirror discovery, the cache
(status, prune, atomic publish, lock, restore), preflight, progress and the CLI.

Builds are faked by replacing `_build_into`; the real build is tests/e2e/local/test_image.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from infra.local import image, image_cli
from infra.local.image import (
    DEFAULT_RECIPE,
    ImageError,
    ImageInUseError,
    ImagePreflightError,
    ImageRecipe,
    MirrorConfig,
    recipe_digest,
)

CURRENT = recipe_digest(DEFAULT_RECIPE)
STALE = "0123456789ab" + "0" * 52
MIRROR_A = MirrorConfig("http://mirror-a.example/debian")
MIRROR_B = MirrorConfig("http://mirror-b.example/debian", "http://proxy.example:3142")


# --- recipe digest ------------------------------------------------------------------------


def test_digest_is_a_stable_sha256() -> None:
    assert recipe_digest(ImageRecipe()) == recipe_digest(ImageRecipe()) == CURRENT
    assert len(CURRENT) == 64 and int(CURRENT, 16) >= 0


def test_digest_ignores_the_order_of_packages() -> None:
    shuffled = dataclasses.replace(
        DEFAULT_RECIPE, packages=tuple(reversed(DEFAULT_RECIPE.packages))
    )
    assert recipe_digest(shuffled) == CURRENT


@pytest.mark.parametrize(
    "change",
    [
        {"packages": (*DEFAULT_RECIPE.packages, "curl")},
        {"packages": DEFAULT_RECIPE.packages[:-1]},
        {"suite": "trixie"},
        {"variant": "buildd"},
        {"architecture": "arm64"},
        {"masked_units": ()},
        {"enabled_units": ("ssh.service",)},
        {"scrubbed_paths": ()},
        {"admin_user": "operator"},
        {"admin_uid": 1001},
        {"sshd_settings": (("PasswordAuthentication", "yes"),)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_digest_changes_with_what_is_in_the_image(change: dict[str, Any]) -> None:
    assert recipe_digest(dataclasses.replace(DEFAULT_RECIPE, **change)) != CURRENT


def test_digest_changes_with_recipe_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image, "RECIPE_VERSION", image.RECIPE_VERSION + 1)
    assert recipe_digest(DEFAULT_RECIPE) != CURRENT


def test_the_mirror_is_no_part_of_the_recipe() -> None:
    assert "mirror" not in json.dumps(DEFAULT_RECIPE.canonical())


def test_recipe_keeps_the_admin_user_and_the_sshd_policy() -> None:
    assert image.ADMIN_USER == "rsadmin" == DEFAULT_RECIPE.admin_user
    assert dict(DEFAULT_RECIPE.sshd_settings) == {
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "PermitRootLogin": "no",
        "PubkeyAuthentication": "yes",
    }


# --- the mirror ---------------------------------------------------------------------------

DEB822 = """\
Types: deb deb-src
# a comment inside a stanza
URIs: http://deb.example.org/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example.org/debian-security
Suites: bookworm-security
Components: main
"""

DEB822_DISABLED_FIRST = """\
Types: deb
URIs: http://disabled.example.org/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb-src
URIs: http://sources-only.example.org/debian
Suites: bookworm
Components: main

Types: deb
URIs: cdrom:[Debian 12]/ http://second-uri.example.org/debian/
Suites:
 bookworm
Components: main
"""

LEGACY = """\
# deb http://commented.example.org/debian bookworm main
deb-src http://sources-only.example.org/debian bookworm main
deb http://other-suite.example.org/debian trixie main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://legacy.example.org/debian/ bookworm main non-free-firmware
deb http://later.example.org/debian bookworm main
"""


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (image.parse_deb822_sources, DEB822, "http://deb.example.org/debian"),
        (image.parse_deb822_sources, DEB822_DISABLED_FIRST, "http://second-uri.example.org/debian"),
        (image.parse_legacy_sources, LEGACY, "http://legacy.example.org/debian"),
    ],
    ids=["deb822", "deb822-disabled-src-cdrom-skipped", "legacy-with-options"],
)
def test_first_deb_main_entry_for_the_suite_is_the_mirror(
    parse: Callable[[str, str], list[image.AptSource]], text: str, expected: str
) -> None:
    assert image.find_mirror(parse(text, "fixture"), "bookworm") == expected


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"sources.list.d/debian.sources": DEB822}, "http://deb.example.org/debian"),
        ({"sources.list": LEGACY}, "http://legacy.example.org/debian"),
        (  # apt reads sources.list before sources.list.d/
            {"sources.list": LEGACY, "sources.list.d/debian.sources": DEB822},
            "http://legacy.example.org/debian",
        ),
        (  # ...and sources.list.d/ alphabetically, .list files included
            {"sources.list.d/b.sources": DEB822, "sources.list.d/a.list": LEGACY},
            "http://legacy.example.org/debian",
        ),
        (  # an empty sources.list, as on deb822-only systems
            {"sources.list": "", "sources.list.d/debian.sources": DEB822},
            "http://deb.example.org/debian",
        ),
    ],
    ids=["deb822", "legacy", "legacy-first", "alphabetical", "empty-legacy"],
)
def test_controller_mirror_reads_apt_configuration(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    mirror = image.controller_mirror(apt_etc=tmp_path, apt_config_dump=lambda: "")
    assert mirror == MirrorConfig(expected, None)


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"sources.list": LEGACY.replace("bookworm", "bullseye")},
        {"sources.list.d/x.sources": ""},
    ],
    ids=["no-files", "other-suite-only", "empty-deb822"],
)
def test_no_mirror_is_a_preflight_error_saying_what_to_add(
    tmp_path: Path, files: dict[str, str]
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(
        ImagePreflightError, match=r"no apt source for 'bookworm' component main"
    ) as err:
        image.controller_mirror(apt_etc=tmp_path, apt_config_dump=lambda: "")
    assert "Types: deb" in str(err.value) and "apt-get update" in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DEB822, "http://security.example.org/debian-security"),
        (DEB822[: DEB822.index("\nTypes: deb\nURIs: http://security")], None),
    ],
    ids=["deb822", "none"],
)
def test_controller_security_mirror(tmp_path: Path, text: str, expected: str | None) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(text)
    assert image.controller_security_mirror(apt_etc=tmp_path) == expected


APT_DUMP_PROXY = """\
APT "";
Acquire "";
Acquire::http "";
Acquire::http::Proxy "http://proxy.example:3142";
Acquire::http::Proxy::direct.example.org "DIRECT";
"""


@pytest.mark.parametrize(
    ("dump", "uri", "expected"),
    [
        ("", "http://deb.example.org/debian", None),
        (APT_DUMP_PROXY, "http://deb.example.org/debian", "http://proxy.example:3142"),
        (APT_DUMP_PROXY, "http://direct.example.org/debian", None),
        ('Acquire::http::Proxy "false";\n', "http://deb.example.org/debian", None),
    ],
    ids=["none", "global", "per-host-direct", "false"],
)
def test_apt_proxy(dump: str, uri: str, expected: str | None) -> None:
    assert image.parse_apt_proxy(dump, uri) == expected


def test_controller_mirror_takes_the_proxy_from_apt_config(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(LEGACY)
    mirror = image.controller_mirror(apt_etc=tmp_path, apt_config_dump=lambda: APT_DUMP_PROXY)
    assert mirror.proxy == "http://proxy.example:3142"


# --- cache location -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REGIONSTACK_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/c"),
        ({"REGIONSTACK_CACHE_DIR": "", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/regionstack"),
        ({"XDG_CACHE_HOME": "", "HOME": "/h"}, "/h/.cache/regionstack"),
    ],
    ids=["explicit", "xdg", "home"],
)
def test_cache_root(env: dict[str, str], expected: str) -> None:
    assert image.cache_root(env) == Path(expected)
    assert image.images_dir(env) == Path(expected) / "images"


# --- a fake cache -------------------------------------------------------------------------


def make_image(images: Path, digest: str, *, complete: bool = True) -> Path:
    path = images / image.image_name(digest)
    (path / "rootfs/etc").mkdir(parents=True)
    (path / "rootfs/etc/machine-id").write_text("")
    if complete:
        manifest = {
            "digest": digest,
            "built_at": f"2026-01-0{1 if digest == STALE else 2}T00:00:00+00:00",
            "rootfs_bytes": 3 * 1024**2,
            "tar_bytes": 2 * 1024**2,
        }
        (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def overlay_line(mount_id: int, mount_point: str, lowerdir: str) -> str:
    return (
        f"{mount_id} 27 0:{mount_id} / {mount_point} rw,relatime - overlay overlay "
        f"rw,lowerdir={lowerdir},upperdir=/var/lib/m/upper,workdir=/var/lib/m/work\n"
    )


@pytest.fixture
def images(tmp_path: Path) -> Path:
    directory = tmp_path / "images"
    directory.mkdir()
    return directory


@pytest.fixture
def mountinfo(tmp_path: Path) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text("22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n")
    return path


def test_status_of_an_empty_or_missing_cache(tmp_path: Path, images: Path) -> None:
    assert image.image_status(cache_dir=images) == []
    assert image.image_status(cache_dir=tmp_path / "missing") == []


def test_status_lists_current_stale_and_incomplete_images(images: Path, mountinfo: Path) -> None:
    make_image(images, STALE)
    current = make_image(images, CURRENT)
    make_image(images, "fedcba987654" + "0" * 52, complete=False)
    (images / ".build-abc-1").mkdir()  # a work dir is not an image
    with mountinfo.open("a") as f:
        f.write(overlay_line(40, "/var/lib/m/merged", f"{current}/rootfs"))
    infos = image.image_status(cache_dir=images, mountinfo=mountinfo)
    summary = [(i.name, i.current, i.complete, i.built_at, i.in_use_by) for i in infos]
    assert summary == [
        ("base-fedcba987654", False, False, None, ()),
        ("base-0123456789ab", False, True, "2026-01-01T00:00:00+00:00", ()),
        (current.name, True, True, "2026-01-02T00:00:00+00:00", ("/var/lib/m/merged",)),
    ]
    assert infos[2].size_bytes == 5 * 1024**2 and infos[2].digest == CURRENT
    assert infos[0].size_bytes > 0  # measured on disk, no manifest to read it from


def test_prune_removes_stale_incomplete_and_work_dirs_but_keeps_current(
    images: Path, mountinfo: Path
) -> None:
    stale = make_image(images, STALE)
    incomplete = make_image(images, "fedcba987654" + "0" * 52, complete=False)
    work = images / ".build-0123456789ab-42"
    (work / "rootfs").mkdir(parents=True)
    current = make_image(images, CURRENT)
    removed = image.prune_images(cache_dir=images, mountinfo=mountinfo, progress=print)
    assert sorted(removed) == sorted([stale, incomplete, work])
    assert sorted(p.name for p in images.iterdir()) == [".lock", current.name]


def test_prune_all_removes_the_current_image_too(images: Path, mountinfo: Path) -> None:
    current = make_image(images, CURRENT)
    assert image.prune_images(keep_current=False, cache_dir=images, mountinfo=mountinfo) == [
        current
    ]
    assert not current.exists()


def test_prune_of_a_missing_cache_removes_nothing(tmp_path: Path) -> None:
    assert image.prune_images(cache_dir=tmp_path / "missing") == []


@pytest.mark.parametrize(
    "lowerdir",
    [
        "{rootfs}",
        "/var/lib/m/extra:{rootfs}",  # one of several layers
        "{rootfs}/",  # as the operator typed it
    ],
    ids=["only-layer", "second-layer", "trailing-slash"],
)
def test_prune_refuses_an_image_in_use_and_names_the_mount(
    images: Path, mountinfo: Path, lowerdir: str
) -> None:
    stale = make_image(images, STALE)
    older = make_image(images, "aaaaaaaaaaaa" + "0" * 52)
    with mountinfo.open("a") as f:
        f.write(overlay_line(41, "/var/lib/m/merged", lowerdir.format(rootfs=stale / "rootfs")))
    with pytest.raises(ImageInUseError) as err:
        image.prune_images(cache_dir=images, mountinfo=mountinfo)
    message = str(err.value)
    assert "base-0123456789ab is in use" in message
    assert "/var/lib/m/merged (mount id 41) has it as lowerdir" in message
    assert stale.is_dir() and not older.exists()
    assert err.value.removed == [older]


def test_prune_refuses_an_image_with_a_mount_inside(images: Path, mountinfo: Path) -> None:
    stale = make_image(images, STALE)
    with mountinfo.open("a") as f:
        f.write(f"50 22 0:50 / {stale}/rootfs/proc rw - proc proc rw\n")
    with pytest.raises(ImageInUseError, match=r"/rootfs/proc \(mount id 50\) is mounted inside it"):
        image.prune_images(cache_dir=images, mountinfo=mountinfo)
    assert stale.is_dir()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("lowerdir=/a:/b,upperdir=/u,workdir=/w", ("/a", "/b")),
        ("lowerdir=/a::/data,upperdir=/u,workdir=/w", ("/a", "/data")),
        ("lowerdir+=/a,lowerdir+=/b,datadir+=/d,upperdir=/u", ("/a", "/b", "/d")),
        (r"lowerdir=/with\040space:/x\:colon,upperdir=/u", ("/with space", "/x:colon")),
    ],
    ids=["legacy", "data-only", "lowerdir-plus", "escapes"],
)
def test_mountinfo_overlay_lowerdirs(
    tmp_path: Path, options: str, expected: tuple[str, ...]
) -> None:
    path = tmp_path / "mountinfo"
    path.write_text(f"44 27 0:39 / /m\\040nt rw - overlay overlay rw,{options}\nbroken line\n")
    assert image.read_mounts(path) == [image.Mount("44", "/m nt", "overlay", expected)]


# --- building, with the real build faked --------------------------------------------------


class FakeBuild:
    """Stands in for `_build_into`: writes what a build publishes, records the mirrors."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.mirrors: list[str] = []
        self.fail_with = fail_with

    def __call__(
        self, builder: Any, recipe: ImageRecipe, mirror: MirrorConfig, work: Path, digest: str
    ) -> None:
        self.mirrors.append(mirror.uri)
        (work / "rootfs/etc").mkdir(parents=True)
        (work / "image.tar").write_bytes(b"")
        if self.fail_with is not None:
            raise self.fail_with
        (work / "manifest.json").write_text(json.dumps({"digest": digest, "mirror": mirror.uri}))


@pytest.fixture(autouse=True)
def no_real_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        pytest.fail("a unit test started a real image build: install the fake_build fixture first")

    monkeypatch.setattr(image, "_build_into", refuse)


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeBuild]:
    def install(
        mirror: MirrorConfig = MIRROR_A, fail_with: BaseException | None = None
    ) -> FakeBuild:
        fake = FakeBuild(fail_with)
        monkeypatch.setattr(image, "_build_into", fake)
        monkeypatch.setattr(image, "preflight", lambda cache_dir: None)
        monkeypatch.setattr(image, "controller_mirror", lambda suite: mirror)
        return fake

    return install


def test_build_publishes_the_image_under_its_digest(
    images: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    fake = fake_build()
    lines: list[str] = []
    rootfs = image.build_image(cache_dir=images, progress=lines.append)
    assert rootfs == images / f"base-{CURRENT[:12]}" / "rootfs" and rootfs.is_dir()
    assert fake.mirrors == [MIRROR_A.uri]
    assert sorted(p.name for p in images.iterdir()) == [".lock", f"base-{CURRENT[:12]}"]
    assert lines[-1].startswith("done in ")


def test_the_same_image_whatever_mirror_built_it(
    images: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    fake_build(MIRROR_A)
    first = image.ensure_image(cache_dir=images, progress=print)
    other_mirror = fake_build(MIRROR_B)
    assert image.ensure_image(cache_dir=images, progress=print) == first
    assert other_mirror.mirrors == []  # cached: not rebuilt from the other mirror


def test_force_rebuilds_and_replaces(images: Path, fake_build: Callable[..., FakeBuild]) -> None:
    fake_build(MIRROR_A)
    image.build_image(cache_dir=images, progress=print)
    fake = fake_build(MIRROR_B)
    rootfs = image.build_image(force=True, cache_dir=images, progress=print)
    assert fake.mirrors == [MIRROR_B.uri]
    manifest = json.loads((rootfs.parent / "manifest.json").read_text())
    assert manifest["mirror"] == MIRROR_B.uri
    assert sorted(p.name for p in images.iterdir()) == [".lock", rootfs.parent.name]


def test_force_is_refused_while_the_image_is_in_use(
    images: Path, mountinfo: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    fake_build()
    rootfs = image.build_image(cache_dir=images, progress=print)
    with mountinfo.open("a") as f:
        f.write(overlay_line(45, "/var/lib/m/merged", str(rootfs)))
    fake = fake_build()
    with pytest.raises(
        ImageInUseError, match=r"cannot rebuild: base-\w+ is in use: .*/var/lib/m/merged"
    ):
        image.build_image(force=True, cache_dir=images, progress=print, mountinfo=mountinfo)
    assert fake.mirrors == []


@pytest.mark.parametrize(
    "interruption",
    [KeyboardInterrupt(), ImageError("debootstrap failed")],
    ids=["ctrl-c", "error"],
)
def test_an_interrupted_build_leaves_nothing_that_looks_complete(
    images: Path, fake_build: Callable[..., FakeBuild], interruption: BaseException
) -> None:
    fake_build(fail_with=interruption)
    with pytest.raises(type(interruption)):
        image.build_image(cache_dir=images, progress=print)
    assert [p.name for p in images.iterdir()] == [".lock"]
    assert image.image_status(cache_dir=images) == []


def test_a_killed_builds_work_dir_is_removed_by_the_next_build(
    images: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    (images / ".build-0123456789ab-999/rootfs").mkdir(parents=True)
    fake_build()
    lines: list[str] = []
    image.build_image(cache_dir=images, progress=lines.append)
    assert "removing .build-0123456789ab-999, left by an interrupted build" in lines
    assert not (images / ".build-0123456789ab-999").exists()


def test_concurrent_builds_wait_for_the_lock_and_reuse_the_result(
    images: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    fake = fake_build()
    lines: list[str] = []
    result: list[Path] = []
    fd = os.open(images / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # "another pulumi up" is building
    waiter = threading.Thread(
        target=lambda: result.append(image.ensure_image(cache_dir=images, progress=lines.append))
    )
    waiter.start()
    deadline = time.monotonic() + 10
    while not lines and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lines and lines[0].startswith("waiting for another image build")
    make_image(images, CURRENT)  # ...which then publishes the image
    os.close(fd)
    waiter.join(10)
    assert result == [images / f"base-{CURRENT[:12]}" / "rootfs"]
    assert fake.mirrors == []


def tar_of(rootfs: Path, tarball: Path) -> None:
    with tarfile.open(tarball, "w") as tar:
        tar.add(rootfs, arcname=".")


def test_ensure_restores_rootfs_from_the_tarball(tmp_path: Path, images: Path) -> None:
    final = make_image(images, CURRENT)
    (final / "rootfs/etc/os-release").write_text("ID=debian\n")
    tar_of(final / "rootfs", final / "image.tar")
    subprocess.run(["rm", "-rf", str(final / "rootfs")], check=True)
    lines: list[str] = []
    rootfs = image.ensure_image(cache_dir=images, progress=lines.append)
    assert (rootfs / "etc/os-release").read_text() == "ID=debian\n"
    assert lines == [f"restoring {final.name}/rootfs from image.tar…"]
    assert sorted(p.name for p in images.iterdir()) == [".lock", final.name]


def test_a_corrupt_tarball_fails_the_restore_and_leaves_no_rootfs(images: Path) -> None:
    final = make_image(images, CURRENT)
    subprocess.run(["rm", "-rf", str(final / "rootfs")], check=True)
    (final / "image.tar").write_bytes(b"not a tar file" * 100)
    with pytest.raises(
        ImageError, match=rf"(?s)cannot restore {final.name} .*remove {final} to rebuild"
    ):
        image.ensure_image(cache_dir=images, progress=print)
    assert sorted(p.name for p in final.iterdir()) == ["image.tar", "manifest.json"]
    assert sorted(p.name for p in images.iterdir()) == [".lock", final.name]


# --- preflight ----------------------------------------------------------------------------


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


@pytest.fixture
def controller(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A controller that passes preflight; each test breaks one thing."""
    keyring = tmp_path / "keyring.gpg"
    keyring.write_bytes(b"")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(image, "DEBIAN_KEYRING", keyring)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: DiskUsage(0, 0, 50 * 1024**3))
    return monkeypatch


def test_preflight_passes_on_a_ready_controller(
    controller: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    image.preflight(tmp_path / "not/yet/created")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (
            lambda m: m.setattr(os, "geteuid", lambda: 1000),
            r"needs root.*sudo -E regionstack image build",
        ),
        (
            lambda m: m.setattr(shutil, "which", lambda name: None),
            r"`apt-get install debootstrap`",
        ),
        (
            lambda m: m.setattr(image, "DEBIAN_KEYRING", Path("/nonexistent/keyring.gpg")),
            r"`apt-get install debian-archive-keyring`",
        ),
        (
            lambda m: m.setattr(shutil, "disk_usage", lambda path: DiskUsage(0, 0, 1024**3)),
            r"only 1\.0 GiB free .* needs 2 GiB: .*regionstack image prune.*REGIONSTACK_CACHE_DIR",
        ),
    ],
    ids=["not-root", "no-debootstrap", "no-keyring", "low-disk"],
)
def test_preflight_errors_say_what_to_do(
    controller: pytest.MonkeyPatch,
    tmp_path: Path,
    breakage: Callable[[pytest.MonkeyPatch], None],
    message: str,
) -> None:
    breakage(controller)
    with pytest.raises(ImagePreflightError, match=message):
        image.preflight(tmp_path)


def test_build_runs_preflight_before_anything_else(
    controller: pytest.MonkeyPatch, images: Path
) -> None:
    controller.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ImagePreflightError, match="needs root"):
        image.build_image(cache_dir=images)
    assert list(images.iterdir()) == []


# --- the builder's own error paths --------------------------------------------------------


@pytest.fixture
def builder(images: Path) -> Iterator[image._Builder]:
    fd = os.open(images / ".lock", os.O_RDWR | os.O_CREAT)
    yield image._Builder(fd, print)
    os.close(fd)


def test_a_failing_command_is_an_image_error_with_its_output(builder: image._Builder) -> None:
    with pytest.raises(ImageError, match=r"`sh -c .*` failed with exit code 3:\nboom"):
        builder.run(["sh", "-c", "echo boom >&2; exit 3"])


DEBOOTSTRAP_OUTPUT = """\
I: Retrieving InRelease
I: Checking Release signature
I: Valid Release signature (key id 4D64FEC119C2029067D6E791F8D2585B8783D481)
I: Retrieving Packages
I: Validating Packages
I: Resolving dependencies of required packages...
I: Resolving dependencies of base packages...
I: Checking component main on http://deb.example.org/debian...
I: Retrieving adduser 3.134
I: Validating adduser 3.134
I: Retrieving apt 2.6.1
I: Validating apt 2.6.1
I: Chosen extractor for .deb packages: dpkg-deb
I: Extracting adduser...
I: Extracting apt...
I: Installing core packages...
I: Unpacking required packages...
I: Unpacking adduser...
I: Configuring required packages...
I: Configuring adduser...
W: Failure trying to run: chroot something
I: Unpacking the base system...
I: Configuring the base system...
dpkg output that is not debootstrap's
I: Base system installed successfully.
"""


def test_debootstrap_progress_is_one_line_per_phase() -> None:
    condensed = image.DebootstrapProgress()
    shown = [line for line in map(condensed.feed, DEBOOTSTRAP_OUTPUT.splitlines()) if line]
    assert shown == [
        "debootstrap: fetching the package index…",
        "debootstrap: resolving dependencies…",
        "debootstrap: retrieving packages…",
        "debootstrap: extracting packages…",
        "debootstrap: installing core packages…",
        "debootstrap: unpacking required packages…",
        "debootstrap: configuring required packages…",
        "debootstrap warning: Failure trying to run: chroot something",
        "debootstrap: unpacking the other packages…",
        "debootstrap: configuring the other packages…",
        "debootstrap: base system installed (2 packages)",
    ]


def test_a_failing_debootstrap_reports_its_last_output(
    builder: image._Builder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "debootstrap"
    script.write_text(
        "#!/bin/sh\n"
        'echo "I: Retrieving InRelease"\n'
        'echo "E: Failed getting release file http://mirror-a.example/debian/dists/bookworm/InRelease"\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    lines: list[str] = []
    builder.progress = lines.append
    with pytest.raises(ImageError) as err:
        builder.debootstrap(DEFAULT_RECIPE, MIRROR_A, tmp_path / "rootfs")
    message = str(err.value)
    assert "debootstrap of bookworm from http://mirror-a.example/debian failed (exit 1)" in message
    assert "apt-get update" in message and "E: Failed getting release file" in message
    assert lines == [
        "debootstrap: fetching the package index…",
        "debootstrap error: Failed getting release file http://mirror-a.example/debian/dists/bookworm/InRelease",
    ]


def test_sshd_must_apply_the_drop_in(
    builder: image._Builder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An sshd_config that sets a value before the Include wins; the build must notice."""

    def chroot(rootfs: Path, *args: str) -> str:
        return "passwordauthentication yes\npermitrootlogin no\n" if "-T" in args else ""

    monkeypatch.setattr(builder, "chroot", chroot)
    rootfs = tmp_path / "rootfs"
    (rootfs / "run").mkdir(parents=True)
    with pytest.raises(ImageError, match=r"sshd does not apply `PasswordAuthentication no`"):
        builder._sshd(DEFAULT_RECIPE, rootfs)
    assert not (rootfs / "run/sshd").exists()  # the check's scaffolding is gone


def fake_rootfs(tmp_path: Path) -> Path:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc/ssh").mkdir(parents=True)
    (rootfs / "etc/systemd/system").mkdir(parents=True)
    (rootfs / "etc/machine-id").write_text("")
    for unit in DEFAULT_RECIPE.masked_units:
        (rootfs / "etc/systemd/system" / unit).symlink_to("/dev/null")
    return rootfs


def test_verify_accepts_a_rootfs_that_keeps_the_recipe(tmp_path: Path) -> None:
    image._verify(DEFAULT_RECIPE, fake_rootfs(tmp_path))


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        (lambda r: (r / "etc/ssh/ssh_host_ed25519_key").write_text("k"), "SSH host keys left"),
        (
            lambda r: (r / "etc/machine-id").write_text("0" * 32 + "\n"),
            "/etc/machine-id is not empty",
        ),
        (
            lambda r: (r / "etc/systemd/system/console-getty.service").unlink(),
            "console-getty.service is not masked",
        ),
    ],
    ids=["host-keys", "machine-id", "unmasked"],
)
def test_verify_refuses_a_rootfs_that_breaks_the_recipe(
    tmp_path: Path, breakage: Callable[[Path], object], problem: str
) -> None:
    rootfs = fake_rootfs(tmp_path)
    breakage(rootfs)
    with pytest.raises(ImageError, match=f"breaks its recipe: {problem}"):
        image._verify(DEFAULT_RECIPE, rootfs)


# --- the CLI ------------------------------------------------------------------------------


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
    monkeypatch.setattr(image_cli, "image_status", lambda: image.image_status(cache_dir=images))
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
