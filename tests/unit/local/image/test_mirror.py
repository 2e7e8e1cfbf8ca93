"""Finding the mirror and proxy in the controller's apt configuration, both source formats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra.local.image.errors import ImagePreflightError
from infra.local.image.mirror import (
    AptSource,
    MirrorConfig,
    controller_mirror,
    controller_security_mirror,
    find_mirror,
    parse_apt_proxy,
    parse_deb822_sources,
    parse_legacy_sources,
)

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
        (parse_deb822_sources, DEB822, "http://deb.example.org/debian"),
        (parse_deb822_sources, DEB822_DISABLED_FIRST, "http://second-uri.example.org/debian"),
        (parse_legacy_sources, LEGACY, "http://legacy.example.org/debian"),
    ],
    ids=["deb822", "deb822-disabled-src-cdrom-skipped", "legacy-with-options"],
)
def test_first_deb_main_entry_for_the_suite_is_the_mirror(
    parse: Callable[[str, str], list[AptSource]], text: str, expected: str
) -> None:
    assert find_mirror(parse(text, "fixture"), "bookworm") == expected


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
    mirror = controller_mirror(apt_etc=tmp_path, apt_config_dump=lambda: "")
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
        controller_mirror(apt_etc=tmp_path, apt_config_dump=lambda: "")
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
    assert controller_security_mirror(apt_etc=tmp_path) == expected


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
    assert parse_apt_proxy(dump, uri) == expected


def test_controller_mirror_takes_the_proxy_from_apt_config(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(LEGACY)
    mirror = controller_mirror(apt_etc=tmp_path, apt_config_dump=lambda: APT_DUMP_PROXY)
    assert mirror.proxy == "http://proxy.example:3142"
