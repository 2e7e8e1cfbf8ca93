"""The local target's shared fixtures (tests/unit/local/conftest.py) for the tests of
modules/local."""

from __future__ import annotations

from tests.unit.local.conftest import rootfs  # noqa: F401  (the stand-in image)
