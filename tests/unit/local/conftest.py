"""Fixtures shared by the tests of the local target."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.local.machine.cases import ADMIN_UID


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in image: the passwd entry and home of the admin user, nothing else."""
    if os.geteuid() != 0:
        pytest.skip("files owned by the admin user can only be written as root")
    root = tmp_path_factory.mktemp("image") / "rootfs"
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        f"rsadmin:x:{ADMIN_UID}:{ADMIN_UID}::/home/rsadmin:/bin/bash\n"
        "nohome:x:1001:1001::/home/nohome:/bin/bash\n"
    )
    home = root / "home/rsadmin"
    (home / ".ssh").mkdir(parents=True)
    for path in (home, home / ".ssh"):
        os.chown(path, ADMIN_UID, ADMIN_UID)
        path.chmod(0o700)
    return root
