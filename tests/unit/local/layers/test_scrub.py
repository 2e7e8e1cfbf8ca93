"""Scrubbing a layer's root: every per-host path goes, everything else stays, and nothing
outside the root is touched, whatever its symlinks say."""

from __future__ import annotations

from pathlib import Path

from infra.local.layers.scrub import leftovers, scrub

PER_HOST = [
    "etc/machine-id",
    "etc/ssh/ssh_host_ed25519_key",
    "etc/ssh/ssh_host_ed25519_key.pub",
    "etc/postgresql/15/main/postgresql.conf",
    "var/lib/postgresql/15/main/PG_VERSION",
    "var/lib/rabbitmq/.erlang.cookie",
    "etc/ssl/private/ssl-cert-snakeoil.key",
    "var/lib/aide/aide.db",
    "home/regionstack/.ssh/authorized_keys",
    "root/.ssh/known_hosts",
    "var/log/nginx/access.log",
    "var/lib/apt/lists/deb.debian.org_dists_bookworm_Release",
    "tmp/ansible-tmp-1/x.py",
]
KEPT = [
    "etc/ssh/sshd_config",
    "etc/postgresql/15/conf.d/regionstack.conf",
    "etc/aide/aide.conf",
    "etc/ssl/private/README",
    "home/regionstack/.bashrc",
    "usr/sbin/nginx",
    "var/lib/rabbitmq/enabled_plugins",
]


def make_tree(root: Path, paths: list[str]) -> None:
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(path)


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_scrub_removes_every_per_host_path_and_keeps_the_rest(tmp_path: Path) -> None:
    make_tree(tmp_path, PER_HOST + KEPT)
    assert leftovers(tmp_path)
    removed = scrub(tmp_path)
    assert files(tmp_path) == sorted(KEPT)
    assert "etc/postgresql/15/main" in removed and "root/.ssh" in removed
    assert leftovers(tmp_path) == []


def test_scrub_of_a_clean_root_removes_nothing(tmp_path: Path) -> None:
    make_tree(tmp_path, KEPT)
    assert scrub(tmp_path) == []
    assert files(tmp_path) == sorted(KEPT)


def test_scrub_never_follows_a_directory_symlink_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "controller-etc"
    make_tree(outside, ["machine-id", "ssh/ssh_host_ed25519_key"])
    root = tmp_path / "layer"
    root.mkdir()
    (root / "etc").symlink_to(outside)
    assert scrub(root) == []
    assert files(outside) == ["machine-id", "ssh/ssh_host_ed25519_key"]
    # What the scrub may not remove stays visible: the build refuses to publish the layer.
    assert leftovers(root) == ["etc/machine-id", "etc/ssh/ssh_host_ed25519_key"]


def test_scrub_removes_a_per_host_symlink_but_not_what_it_points_to(tmp_path: Path) -> None:
    outside = tmp_path / "controller-ssh"
    make_tree(outside, ["id_ed25519"])
    root = tmp_path / "layer"
    (root / "root").mkdir(parents=True)
    (root / "root/.ssh").symlink_to(outside)
    assert scrub(root) == ["root/.ssh"]
    assert not (root / "root/.ssh").is_symlink()
    assert files(outside) == ["id_ed25519"]
