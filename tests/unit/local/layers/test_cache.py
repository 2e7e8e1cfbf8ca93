"""The layer cache: a published layer is found by its digest, and only by it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.local.layers import cache

DIGEST = "0123456789ab" + "c" * 52
TWIN = "0123456789ab" + "d" * 52  # the same directory name, another layer


@pytest.fixture(autouse=True)
def no_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sync", lambda: None)  # the controller's disks are not ours


def work_dir(cache_dir: Path, name: str = "portal") -> Path:
    work = cache.layers_dir(cache_dir) / f"{cache.WORK_PREFIX}{name}-42"
    (work / cache.ROOT / "etc").mkdir(parents=True)
    (work / cache.ROOT / "etc/portal.conf").write_text("x")
    return work


def test_publish_find_and_cached_round_trip(tmp_path: Path) -> None:
    work = work_dir(tmp_path)
    manifest = {"layer": "portal", "digest": DIGEST, "built_at": "2026-01-02T00:00:00+00:00"}
    published = cache.publish(work, "portal", DIGEST, manifest)
    assert published.path == tmp_path / "layers" / "portal-0123456789ab"
    assert not work.exists()
    assert (published.root / "etc/portal.conf").read_text() == "x"
    assert cache.find("portal", DIGEST, tmp_path) == published
    assert cache.cached(tmp_path) == [published]
    assert cache.work_dirs(tmp_path) == []


def test_a_layer_is_found_by_its_full_digest_only(tmp_path: Path) -> None:
    cache.publish(work_dir(tmp_path), "portal", DIGEST, {"layer": "portal", "digest": DIGEST})
    assert cache.find("portal", TWIN, tmp_path) is None
    assert cache.find("hotline", DIGEST, tmp_path) is None


def test_a_manifest_with_a_wrong_digest_is_not_found(tmp_path: Path) -> None:
    cache.publish(work_dir(tmp_path), "portal", DIGEST, {"layer": "portal", "digest": TWIN})
    assert cache.find("portal", DIGEST, tmp_path) is None


def test_a_layer_without_its_root_is_not_found(tmp_path: Path) -> None:
    published = cache.publish(
        work_dir(tmp_path), "portal", DIGEST, {"layer": "portal", "digest": DIGEST}
    )
    (published.root / "etc/portal.conf").unlink()
    (published.root / "etc").rmdir()
    published.root.rmdir()
    assert cache.find("portal", DIGEST, tmp_path) is None


def test_work_dirs_and_unreadable_manifests_are_not_layers(tmp_path: Path) -> None:
    work = work_dir(tmp_path)
    broken = cache.layers_dir(tmp_path) / "portal-fedcba987654"
    (broken / cache.ROOT).mkdir(parents=True)
    (broken / cache.MANIFEST).write_text("{not json")
    assert cache.cached(tmp_path) == []
    assert cache.work_dirs(tmp_path) == [work]


def test_a_missing_cache_has_no_layers_and_no_work_dirs(tmp_path: Path) -> None:
    assert cache.cached(tmp_path / "missing") == []
    assert cache.work_dirs(tmp_path / "missing") == []
