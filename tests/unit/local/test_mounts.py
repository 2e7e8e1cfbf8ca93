"""Reading /proc/self/mountinfo: the lowerdirs of overlays, in every syntax the kernel has."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.mounts import Mount, read_mounts


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
    assert read_mounts(path) == [Mount("44", "/m nt", "overlay", expected)]
