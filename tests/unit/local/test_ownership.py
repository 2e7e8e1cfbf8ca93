"""The ownership markers of the local target's state dirs (infra/local/ownership.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local import ownership

OWNER = ownership.Owner(kind="machine", stack="hz", name="hz-portal-1")


def test_marker_round_trip(tmp_path: Path) -> None:
    ownership.write_marker(tmp_path, OWNER)
    assert ownership.read_marker(tmp_path) == OWNER
    assert ownership.is_owned(tmp_path, OWNER)


@pytest.mark.parametrize(
    "other",
    [
        ownership.Owner("machine", "hz2", "hz-portal-1"),
        ownership.Owner("machine", "hz", "hz-portal-2"),
        ownership.Owner("network", "hz", "hz-portal-1"),
    ],
)
def test_marker_of_another_owner_is_not_ours(tmp_path: Path, other: ownership.Owner) -> None:
    ownership.write_marker(tmp_path, other)
    assert not ownership.is_owned(tmp_path, OWNER)


def test_missing_or_garbled_marker_is_not_ours(tmp_path: Path) -> None:
    assert ownership.read_marker(tmp_path) is None
    ownership.marker_path(tmp_path).write_text("{not json")
    assert ownership.read_marker(tmp_path) is None
    assert not ownership.is_owned(tmp_path, OWNER)


def test_owned_dir_appears_with_its_marker(tmp_path: Path) -> None:
    directory = tmp_path / "a/b/hz-portal-1"
    ownership.create_owned_dir(directory, OWNER)
    assert ownership.is_owned(directory, OWNER)
    assert sorted(p.name for p in directory.parent.iterdir()) == ["hz-portal-1"]


def test_owned_dir_refuses_an_existing_dir(tmp_path: Path) -> None:
    directory = tmp_path / "hz-portal-1"
    directory.mkdir()
    with pytest.raises(FileExistsError):
        ownership.create_owned_dir(directory, OWNER)
    assert not ownership.is_owned(directory, OWNER)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hz-portal-1"]
