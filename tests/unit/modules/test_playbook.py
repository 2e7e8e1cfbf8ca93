"""The Playbook resource's provider: drift found by refresh is repaired by the next up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.playbook import PlaybookProgress
from modules import playbook as module
from modules.playbook import PlaybookProvider

PROPS = {
    "stack": "chunan",
    "project_dir": "/checkout",
    "content_hash": "sha256:1",
    "outputs": {"hosts": {}},
    "changed": {"chunan-portal-1": 0},
    "drift": {},
}


def test_refresh_keeps_what_the_check_found_as_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    found = {"chunan-portal-1": ["common : Write the SSH server hardening | mlps-8.1.4.1"]}
    monkeypatch.setattr(module, "check_drift", lambda stack, outputs, root, emit: found)
    result = PlaybookProvider().read("chunan-site", dict(PROPS))
    assert result.outs is not None and result.outs["drift"] == found
    assert result.inputs == {k: PROPS[k] for k in module.INPUT_KEYS}


def test_drift_asks_for_an_update_and_no_drift_does_not() -> None:
    provider = PlaybookProvider()
    clean = provider.diff("chunan-site", dict(PROPS), dict(PROPS))
    assert clean.changes is False
    drifted = {**PROPS, "drift": {"chunan-portal-1": ["a task"]}}
    assert provider.diff("chunan-site", drifted, dict(PROPS)).changes is True


def test_the_checkout_directory_alone_is_no_change() -> None:
    moved = {**PROPS, "project_dir": "/elsewhere"}
    assert PlaybookProvider().diff("chunan-site", dict(PROPS), moved).changes is False


def test_update_repairs_the_drifted_hosts_and_clears_the_drift(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    def run(stack: str, outputs: dict[str, Any], root: Path, emit: Any, repair: Any) -> Any:
        calls.append({"stack": stack, "root": root, "repair": repair})
        return PlaybookProgress(changed={"chunan-portal-1": 2})

    monkeypatch.setattr(module, "run_playbook", run)
    drifted = {**PROPS, "drift": {"chunan-portal-1": ["a task"]}}
    result = PlaybookProvider().update("chunan-site", drifted, dict(PROPS))
    assert calls == [{"stack": "chunan", "root": Path("/checkout"), "repair": ["chunan-portal-1"]}]
    assert result.outs is not None
    assert result.outs["drift"] == {} and result.outs["changed"] == {"chunan-portal-1": 2}
