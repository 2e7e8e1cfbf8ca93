"""The Debian mirror (and proxy) a build uses: the controller's own apt sources.

The mirror is no part of the recipe: any mirror gives the same image.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.local.image.errors import ImagePreflightError
from infra.local.image.recipe import DEFAULT_RECIPE

APT_ETC = Path("/etc/apt")


@dataclass(frozen=True)
class MirrorConfig:
    uri: str
    proxy: str | None = None


@dataclass(frozen=True)
class AptSource:
    origin: str  # file, and line or stanza, for messages
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


_SUPPORTED_SCHEMES = ("http://", "https://", "file:")


def parse_deb822_sources(text: str, origin: str) -> list[AptSource]:
    """The `deb` entries of a deb822 `.sources` file, skipping `Enabled: no` stanzas."""
    sources = []
    for number, stanza in enumerate(re.split(r"\n\s*\n", text), start=1):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if line[0] in " \t" and key is not None:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() in ("no", "false", "0"):
            continue
        for uri in fields.get("uris", "").split():
            sources.append(
                AptSource(
                    f"{origin} stanza {number}",
                    uri,
                    tuple(fields.get("suites", "").split()),
                    tuple(fields.get("components", "").split()),
                )
            )
    return sources


def parse_legacy_sources(text: str, origin: str) -> list[AptSource]:
    """The `deb` lines of a one-line-style `sources.list`."""
    sources = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        line = re.sub(r"\[[^\]]*\]", " ", line)  # options such as [signed-by=…]
        words = line.split()
        if len(words) < 3 or words[0] != "deb":
            continue
        sources.append(
            AptSource(f"{origin} line {number}", words[1], (words[2],), tuple(words[3:]))
        )
    return sources


def parse_apt_proxy(dump: str, uri: str) -> str | None:
    """The HTTP proxy apt would use for `uri`, from `apt-config dump` output."""
    values: dict[str, str] = {}
    for match in re.finditer(r'^(Acquire::http::Proxy(?:::[^ ]+)?) "(.*)";$', dump, re.MULTILINE):
        values[match.group(1).lower()] = match.group(2)
    host = re.sub(r"^[a-z+]+://([^/:]+).*$", r"\1", uri)
    value = values.get(f"acquire::http::proxy::{host.lower()}", values.get("acquire::http::proxy"))
    if not value or value.upper() == "DIRECT" or value.lower() == "false":
        return None
    return value


def _apt_source_files(apt_etc: Path) -> list[Path]:
    """In apt's own reading order: sources.list, then sources.list.d/ alphabetically."""
    files = [apt_etc / "sources.list"]
    parts = apt_etc / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    return [f for f in files if f.is_file()]


def find_mirror(sources: Sequence[AptSource], suite: str, component: str = "main") -> str | None:
    for source in sources:
        if (
            suite in source.suites
            and component in source.components
            and source.uri.startswith(_SUPPORTED_SCHEMES)
        ):
            return source.uri.rstrip("/")
    return None


def _apt_config_dump() -> str:
    try:
        result = subprocess.run(
            ["apt-config", "dump"], capture_output=True, text=True, check=False, timeout=30
        )
    except FileNotFoundError:
        return ""
    return result.stdout


def _controller_sources(apt_etc: Path) -> list[AptSource]:
    sources: list[AptSource] = []
    for path in _apt_source_files(apt_etc):
        text = path.read_text(encoding="utf-8", errors="replace")
        parse = parse_deb822_sources if path.suffix == ".sources" else parse_legacy_sources
        sources += parse(text, str(path))
    return sources


def controller_mirror(
    suite: str = DEFAULT_RECIPE.suite,
    *,
    apt_etc: Path = APT_ETC,
    apt_config_dump: Callable[[], str] = _apt_config_dump,
) -> MirrorConfig:
    """The Debian mirror (and proxy) the controller's apt uses for `suite` main."""
    uri = find_mirror(_controller_sources(apt_etc), suite)
    if uri is None:
        looked = ", ".join(str(p) for p in _apt_source_files(apt_etc)) or "no source files"
        raise ImagePreflightError(
            f"no apt source for '{suite}' component main on this controller (looked at {looked} "
            f"under {apt_etc}); add one, e.g. a deb822 stanza in {apt_etc}/sources.list.d/"
            f"debian.sources with 'Types: deb', 'URIs: <your Debian mirror>', 'Suites: {suite}', "
            "'Components: main', then run `apt-get update` to check it works"
        )
    return MirrorConfig(uri, parse_apt_proxy(apt_config_dump(), uri))


def controller_security_mirror(
    suite: str = DEFAULT_RECIPE.suite, *, apt_etc: Path = APT_ETC
) -> str | None:
    """The security archive the controller's apt uses for `<suite>-security`, if any."""
    return find_mirror(_controller_sources(apt_etc), f"{suite}-security")
