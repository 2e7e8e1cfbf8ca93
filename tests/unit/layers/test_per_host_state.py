"""The per-host state rules: each a relative, distinct pattern, together covering every
identity a layer must not share between the hosts booted from it."""

from __future__ import annotations

import glob
from pathlib import Path, PurePosixPath

import pytest

from infra.layers import PER_HOST_STATE, PerHostState

PATTERNS = [state.pattern for state in PER_HOST_STATE]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_pattern_is_relative_to_the_layer_root(pattern: str) -> None:
    path = PurePosixPath(pattern)
    assert not path.is_absolute() and ".." not in path.parts, pattern


def test_the_patterns_are_unique() -> None:
    assert sorted(p for p in set(PATTERNS) if PATTERNS.count(p) > 1) == []


@pytest.mark.parametrize(
    "path",
    [
        "etc/machine-id",
        "var/lib/dbus/machine-id",
        "etc/ssh/ssh_host_ed25519_key",
        "etc/ssh/ssh_host_rsa_key.pub",
        "var/lib/rabbitmq/.erlang.cookie",
        "etc/postgresql/15/main",
        "var/lib/postgresql/15/main",
        "etc/ssl/private/ssl-cert-snakeoil.key",
        "var/lib/aide/aide.db",
        "var/lib/aide/aide.db.new",
    ],
)
def test_the_identities_a_host_must_not_share_are_covered(tmp_path: Path, path: str) -> None:
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text("")
    # Matched as the builders match them: glob, where `*` stays within one directory.
    assert [p for p in PATTERNS if glob.glob(str(tmp_path / p))], f"no rule removes {path}"


@pytest.mark.parametrize("state", PER_HOST_STATE, ids=PATTERNS)
def test_each_rule_says_what_it_is_and_who_makes_it_again(state: PerHostState) -> None:
    assert state.what.strip() and state.remade_by.strip()
