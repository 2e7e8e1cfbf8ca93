from __future__ import annotations

from typing import Any

from infra.compliance.catalog import Catalog
from infra.fleet.drift_causes import HOST_TASK, RESOURCE, UNCHECKED, Cause
from infra.fleet.drift_preview import (
    PLAYBOOK_TYPE,
    playbook_drift,
    preview_findings,
)

PROJECT = "urn:pulumi:chunan::regionstack::"
MACHINE = "pulumi-python:dynamic/local:Machine"
FIREWALL = "pulumi-python:dynamic/local:Firewall"


def step(op: str, type_: str, name: str, diffs: list[str] | None = None) -> dict[str, Any]:
    urn = f"{PROJECT}{type_}::{name}"
    return {"resourcePreEvent": {"metadata": {"op": op, "urn": urn, "type": type_, "diffs": diffs}}}


def refreshed_playbook(drift: dict[str, list[str]]) -> dict[str, Any]:
    urn = f"{PROJECT}{PLAYBOOK_TYPE}::chunan-site"
    new = {"outputs": {"drift": drift, "changed": {}}}
    metadata = {"op": "refresh", "urn": urn, "type": PLAYBOOK_TYPE, "new": new}
    return {"resOutputsEvent": {"metadata": metadata}}


def test_a_clean_preview_has_no_findings(catalog: Catalog) -> None:
    events = [
        step("refresh", MACHINE, "chunan-local-chunan-portal-1"),
        step("same", MACHINE, "chunan-local-chunan-portal-1"),
        refreshed_playbook({}),
        step("same", PLAYBOOK_TYPE, "chunan-site"),
        {"diagnosticEvent": {"message": "task: common : Install nftables"}},
    ]
    assert preview_findings("chunan", events, catalog) == []


def test_a_resource_that_would_change_is_a_finding_with_its_properties(catalog: Catalog) -> None:
    events = [
        step("update", MACHINE, "chunan-local-chunan-portal-1", ["running"]),
        step("update", FIREWALL, "chunan-local-firewall", ["applied", "listing_sha256"]),
    ]
    machine, firewall = preview_findings("chunan", events, catalog)
    assert machine.cause == Cause(
        RESOURCE, "local:Machine", "<region>-local-<host>", "update: running"
    )
    assert machine.resource.endswith("::chunan-local-chunan-portal-1")
    assert (machine.host, firewall.host) == ("chunan-portal-1", "")
    assert firewall.cause.property == "update: applied, listing_sha256"


def test_a_resource_gone_from_the_live_world_is_planned_as_created(catalog: Catalog) -> None:
    (finding,) = preview_findings(
        "chunan", [step("create", MACHINE, "chunan-local-chunan-hotline-1")], catalog
    )
    assert finding.cause.property == "create"


def test_the_playbook_drift_is_a_finding_per_host_and_task(catalog: Catalog) -> None:
    drift = {
        "chunan-portal-1": ["common : Configure sshd | mlps-8.1.4.1"],
        "chunan-hotline-1": [
            "common : Configure sshd | mlps-8.1.4.1",
            "could not be checked: hotline : Start",
        ],
    }
    events = [refreshed_playbook(drift), step("update", PLAYBOOK_TYPE, "chunan-site", ["drift"])]
    findings = preview_findings("chunan", events, catalog)
    # The Playbook's own update says only "drift": its tasks are the findings.
    assert {f.cause.kind for f in findings} == {HOST_TASK, UNCHECKED}
    sshd = [f for f in findings if f.cause.kind == HOST_TASK]
    assert {f.host for f in sshd} == {"chunan-portal-1", "chunan-hotline-1"}
    assert {f.cause.component for f in sshd} == {"portal", "hotline"}
    assert all(f.controls == ("8.1.4.1b",) for f in sshd)
    (unchecked,) = [f for f in findings if f.cause.kind == UNCHECKED]
    assert unchecked.cause.item == "hotline : Start"


def test_a_playbook_update_for_more_than_drift_is_a_finding(catalog: Catalog) -> None:
    events = [step("update", PLAYBOOK_TYPE, "chunan-site", ["content_hash", "drift"])]
    (finding,) = preview_findings("chunan", events, catalog)
    assert finding.cause.property == "update: content_hash, drift"


def test_no_playbook_means_no_host_drift() -> None:
    assert playbook_drift([step("same", MACHINE, "m")]) == ("", {})


def refreshed(type_: str, name: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    urn = f"{PROJECT}{type_}::{name}"
    metadata = {
        "op": "refresh",
        "urn": urn,
        "type": type_,
        "old": {"outputs": old},
        "new": {"outputs": new},
    }
    return {"resOutputsEvent": {"metadata": metadata}}


def test_a_step_without_diffs_names_what_the_refresh_changed(catalog: Catalog) -> None:
    events = [
        refreshed(
            FIREWALL,
            "chunan-local-firewall",
            {"applied": True, "table": "t"},
            {"applied": False, "table": "t"},
        ),
        step("update", FIREWALL, "chunan-local-firewall"),
    ]
    (finding,) = preview_findings("chunan", events, catalog)
    assert finding.cause.property == "update: applied"


def test_a_step_without_diffs_names_its_changed_inputs(catalog: Catalog) -> None:
    update = step("update", PLAYBOOK_TYPE, "chunan-site")
    metadata = update["resourcePreEvent"]["metadata"]
    metadata["old"] = {"inputs": {"content_hash": "a", "stack": "chunan"}}
    metadata["new"] = {"inputs": {"content_hash": "b", "stack": "chunan"}}
    (finding,) = preview_findings("chunan", [update], catalog)
    assert finding.cause.property == "update: content_hash"


def test_a_playbook_update_only_for_its_refreshed_drift_is_left_to_its_tasks(
    catalog: Catalog,
) -> None:
    name = "chunan-site"
    events = [
        refreshed(PLAYBOOK_TYPE, name, {"drift": {}}, {"drift": {"chunan-portal-1": ["t"]}}),
        step("update", PLAYBOOK_TYPE, name),
    ]
    assert [f.cause.kind for f in preview_findings("chunan", events, catalog)] == [HOST_TASK]
