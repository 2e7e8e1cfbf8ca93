"""The layers' digests, on a copy of the checkout's sources: a layer is rebuilt exactly when
something its bake run reads changes, and never for a region-level value."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.config.loader import Fleet, load_fleet
from infra.layers import LAYERS, layer_digests

ROOT = Path(__file__).resolve().parents[3]
BASE_IMAGE = "0123456789ab" + "0" * 52


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of what the layers are built from, and nothing else."""
    copy = tmp_path / "checkout"
    for source in sorted({source for layer in LAYERS for source in layer.sources}):
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, copy / source)
        else:
            (copy / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / source, copy / source)
    return copy


def digests(
    root: Path, standard: Mapping[str, Any], base_image: str = BASE_IMAGE
) -> dict[str, str]:
    return layer_digests(root, base_image, standard, "local", "regionstack")


def changed(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])


def append_byte(path: Path) -> None:
    with path.open("ab") as file:
        file.write(b"\n")


def test_every_layer_has_a_distinct_digest(checkout: Path, sample_fleet: Fleet) -> None:
    found = digests(checkout, sample_fleet.standard_data)
    assert sorted(found) == sorted(layer.name for layer in LAYERS)
    assert len(set(found.values())) == len(LAYERS)


def test_changing_nothing_changes_nothing(checkout: Path, sample_fleet: Fleet) -> None:
    standard = sample_fleet.standard_data
    assert digests(checkout, standard) == digests(checkout, standard)


@pytest.mark.parametrize(
    ("source", "rebuilt"),
    [
        ("roles/portal/tasks/main.yml", ["portal"]),
        ("roles/data_exchange/defaults/main.yml", ["data_exchange"]),
        ("roles/security_monitoring/tasks/main.yml", ["security_monitoring"]),
        ("services/hotline/hotline/__init__.py", ["hotline"]),
        ("roles/nginx_front/tasks/main.yml", ["hotline", "portal"]),  # the fronts share it
        ("roles/common/tasks/main.yml", sorted(layer.name for layer in LAYERS)),  # base: below all
        ("playbooks/site.yml", sorted(layer.name for layer in LAYERS)),
    ],
)
def test_a_change_rebuilds_the_layers_that_read_it_and_those_above(
    checkout: Path, sample_fleet: Fleet, source: str, rebuilt: list[str]
) -> None:
    standard = sample_fleet.standard_data
    before = digests(checkout, standard)
    append_byte(checkout / source)
    assert changed(before, digests(checkout, standard)) == rebuilt


def test_a_new_base_image_rebuilds_every_layer(checkout: Path, sample_fleet: Fleet) -> None:
    standard = sample_fleet.standard_data
    before = digests(checkout, standard)
    after = digests(checkout, standard, base_image="fedcba987654" + "0" * 52)
    assert changed(before, after) == sorted(before)


@pytest.mark.parametrize(
    "extra",
    [
        "services/portal/tests/test_app.py",  # the service's own tests, beside its source
        "services/portal/portal/tests/test_settings.py",
        "services/portal/portal/__pycache__/app.cpython-311.pyc",
        "roles/portal/files/__pycache__/x.cpython-311.pyc",
        "roles/common/.pytest_cache/v/cache/lastfailed",
    ],
)
def test_tests_and_caches_change_nothing(checkout: Path, sample_fleet: Fleet, extra: str) -> None:
    standard = sample_fleet.standard_data
    before = digests(checkout, standard)
    (checkout / extra).parent.mkdir(parents=True, exist_ok=True)
    (checkout / extra).write_bytes(b"\x00")
    assert digests(checkout, standard) == before


def test_a_missing_source_raises(checkout: Path, sample_fleet: Fleet) -> None:
    shutil.rmtree(checkout / "services/catalog/catalog")
    with pytest.raises(FileNotFoundError, match="services/catalog/catalog does not exist"):
        digests(checkout, sample_fleet.standard_data)


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}: update the test to the sample"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("regions/33-zhejiang.yaml", "cidr: 10.203.1.0/24", "cidr: 10.203.9.0/24"),
        ("regions/33-zhejiang.yaml", "phone: 0571-12345101", "phone: 0571-12345199"),
        ("regions/33-zhejiang.yaml", "      image: bare\n", ""),
        ("tiers/county.yaml", "portal: {count: 1,", "portal: {count: 2,"),
    ],
    ids=["region-cidr", "region-contact", "region-image", "tier-count"],
)
def test_a_region_level_value_never_rebuilds_a_layer(
    checkout: Path, config_dir: Path, file: str, old: str, new: str
) -> None:
    before = digests(checkout, load_fleet(config_dir).standard_data)
    rewrite(config_dir / file, old, new)
    assert digests(checkout, load_fleet(config_dir).standard_data) == before


def test_a_change_of_the_standard_rebuilds_every_layer(checkout: Path, config_dir: Path) -> None:
    before = digests(checkout, load_fleet(config_dir).standard_data)
    rewrite(config_dir / "standard.yaml", "log_retention_days: 180", "log_retention_days: 365")
    after = digests(checkout, load_fleet(config_dir).standard_data)
    assert changed(before, after) == sorted(before)
