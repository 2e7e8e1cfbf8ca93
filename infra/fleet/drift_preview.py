"""The drift a `pulumi preview --refresh` of one stack shows, read from its engine event log.

The log (`--event-log`, as infra/compliance/policy_run.py reads it) holds, per resource, a
refresh step whose outputs are what the provider read from the live world, then the step
the preview plans against that state. Drift is:

* every planned step other than `same` (a Machine stopped or gone, the region firewall
  edited, a bridge down: the local providers' `read` reports it, see modules/props.py
  `DriftRepairProvider`), with the properties that differ;
* the Playbook resource's refreshed `drift` output: host -> the site playbook's tasks a run
  would change there (its `read` ran the playbook in `--check --diff`, infra/playbook.py
  `check_drift`). Its own planned update, which only says "drift", is left out: the tasks
  are the finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from infra.compliance.catalog import Catalog
from infra.fleet.drift_causes import (
    HOST_TASK,
    RESOURCE,
    UNCHECKED,
    Cause,
    Finding,
    component_of,
    first_host,
    normalise,
    task_controls,
)
from infra.playbook import UNCHECKED as UNCHECKED_PREFIX

PLAYBOOK_TYPE = "pulumi-python:dynamic/region:Playbook"
DRIFT_OUTPUT = "drift"
# Steps that change nothing: what a clean region's preview is made of.
QUIET_OPS = frozenset({"same", "refresh", "read", "discard", "import"})


def _steps(events: Iterable[dict[str, Any]], key: str) -> Iterator[dict[str, Any]]:
    for event in events:
        metadata = (event.get(key) or {}).get("metadata")
        if metadata:
            yield metadata


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _short_type(type_: str) -> str:
    """`pulumi-python:dynamic/local:Machine` -> `local:Machine` (what an operator reads)."""
    module, _, kind = type_.rpartition(":")
    return f"{module.rpartition('/')[2] or module}:{kind}" if module else kind


def _is_playbook(metadata: dict[str, Any]) -> bool:
    return metadata.get("type") == PLAYBOOK_TYPE


def playbook_drift(events: Iterable[dict[str, Any]]) -> tuple[str, dict[str, list[str]]]:
    """(the Playbook's URN, its refreshed `drift`): ("", {}) when the stack has none."""
    for metadata in _steps(events, "resOutputsEvent"):
        if metadata.get("op") == "refresh" and _is_playbook(metadata):
            outputs = (metadata.get("new") or {}).get("outputs") or {}
            drift = outputs.get(DRIFT_OUTPUT) or {}
            return str(metadata.get("urn", "")), {h: list(t) for h, t in drift.items()}
    return "", {}


def _changed_keys(old: dict[str, Any] | None, new: dict[str, Any] | None) -> set[str]:
    old, new = old or {}, new or {}
    return {k for k in {*old, *new} if old.get(k) != new.get(k)}


def refreshed_keys(events: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """URN -> the outputs the refresh read differently from the state (a dynamic
    provider's `diff` names no keys, so these say what drifted: `running`, `applied`)."""
    return {
        str(m.get("urn", "")): _changed_keys(
            (m.get("old") or {}).get("outputs"), (m.get("new") or {}).get("outputs")
        )
        for m in _steps(events, "resOutputsEvent")
        if m.get("op") == "refresh"
    }


def resource_findings(stack: str, events: list[dict[str, Any]]) -> list[Finding]:
    """A finding per planned step that would change a resource, with the properties that
    differ: the step's own diffs, else its changed inputs and the outputs the refresh
    changed."""
    refreshed = refreshed_keys(events)
    findings = []
    for metadata in _steps(events, "resourcePreEvent"):
        op = str(metadata.get("op", ""))
        if op in QUIET_OPS:
            continue
        urn = str(metadata.get("urn", ""))
        keys = {str(d) for d in metadata.get("diffs") or []} or (
            _changed_keys(
                (metadata.get("old") or {}).get("inputs"),
                (metadata.get("new") or {}).get("inputs"),
            )
            | refreshed.get(urn, set())
        )
        diffs = sorted(keys)
        if _is_playbook(metadata) and diffs == [DRIFT_OUTPUT]:
            continue
        changed = ", ".join(diffs)
        cause = Cause(
            RESOURCE,
            _short_type(str(metadata.get("type", ""))),
            normalise(_name(urn), stack),
            f"{op}: {changed}" if changed else op,
        )
        # A machine's resource names its host: the finding is attributed to it.
        host = first_host(_name(urn), stack)
        detail = f"{op} {_name(urn)} {changed}".strip()
        findings.append(Finding(stack, cause, urn, host, detail=detail))
    return findings


def task_findings(
    stack: str, urn: str, drift: dict[str, list[str]], catalog: Catalog
) -> list[Finding]:
    """A finding per (host, task) of the Playbook's `drift`."""
    findings = []
    for host, tasks in sorted(drift.items()):
        for task in tasks:
            kind, name = HOST_TASK, task
            if task.startswith(f"{UNCHECKED_PREFIX}: "):
                kind, name = UNCHECKED, task.removeprefix(f"{UNCHECKED_PREFIX}: ")
            cause = Cause(kind, component_of(host, stack) or host, normalise(name, stack))
            controls = task_controls(name, catalog)
            findings.append(Finding(stack, cause, urn, host, controls, f"{host}: {task}"))
    return findings


def preview_findings(stack: str, events: list[dict[str, Any]], catalog: Catalog) -> list[Finding]:
    urn, drift = playbook_drift(events)
    return resource_findings(stack, events) + task_findings(stack, urn, drift, catalog)
