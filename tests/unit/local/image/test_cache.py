"""Where the cache is: REGIONSTACK_CACHE_DIR, else XDG_CACHE_HOME, else ~/.cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.config.environment import cache_root
from infra.local.image.cache import images_dir


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
    assert cache_root(env) == Path(expected)
    assert images_dir(env) == Path(expected) / "images"
