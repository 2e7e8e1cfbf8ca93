"""The aws target issues the same PKI and credentials as the local target, and each host's
inbound allow list from the flow matrix: what the roles need to run on its hosts."""

from __future__ import annotations

import json
from collections.abc import Callable
from ipaddress import ip_network
from typing import Any

import pytest
from cryptography import x509

from infra import pki
from infra.aws.flows import security_group_rules
from infra.aws.inventory import Connection, build_aws_group_vars
from infra.aws.mocks import Evaluation
from infra.aws.plan import plan_aws_region
from infra.config.loader import Fleet
from modules.secrets import SERVICE_SECRET_NAMES
from tests.unit.aws.stacks import STACK_IDS, STACK_NAMES

pytestmark = pytest.mark.parametrize("stack", STACK_NAMES, ids=STACK_IDS)


def _hosts(fleet: Fleet, stack: str) -> list[str]:
    return [h.name for h in plan_aws_region(fleet, fleet.region(stack)).hosts]


def _root_of(chain_pem: str) -> str:
    return pki.cert_to_pem(pki.load_certificates(chain_pem)[-1])


def test_every_host_has_its_tls_material(
    evaluated: Callable[[str], Evaluation], aws_fleet: Fleet, stack: str
) -> None:
    tls = evaluated(stack).outputs["tls"]
    assert sorted(tls) == sorted(_hosts(aws_fleet, stack))
    for material in tls.values():
        assert set(material) == {
            "ca_pem",
            "server_cert_pem",
            "server_key_pem",
            "client_cert_pem",
            "client_key_pem",
        }


def test_server_certificates_name_the_host_by_dns_only_and_verify_to_the_region_chain(
    evaluated: Callable[[str], Evaluation], stack: str
) -> None:
    for host, material in evaluated(stack).outputs["tls"].items():
        leaf = pki.load_certificate(material["server_cert_pem"])
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [host, f"{host}.{stack}.internal"]
        assert san.get_values_for_type(x509.IPAddress) == []
        chain = material["ca_pem"]
        pki.verify_chain(
            material["server_cert_pem"], chain, _root_of(chain), name=f"{host}.{stack}.internal"
        )
        pki.verify_chain(material["client_cert_pem"], chain, _root_of(chain), kind="client")


def test_a_child_region_is_certified_under_the_ca_its_parent_issued(
    evaluated: Callable[[str], Evaluation], aws_fleet: Fleet, stack: str
) -> None:
    parent = aws_fleet.region(stack).parent
    chain = next(iter(evaluated(stack).outputs["tls"].values()))["ca_pem"]
    # A province's chain is its own root; below it, the region's CA then the parent's.
    assert len(pki.load_certificates(chain)) == (1 if parent is None else 2)


def test_the_service_credentials_are_generated(
    evaluated: Callable[[str], Evaluation], stack: str
) -> None:
    secrets = evaluated(stack).outputs["service_secrets"]
    assert sorted(secrets) == sorted(SERVICE_SECRET_NAMES)
    assert all(len(value) >= 24 for value in secrets.values())


def test_each_host_admits_exactly_the_ingress_of_its_security_group(
    evaluated: Callable[[str], Evaluation], aws_fleet: Fleet, stack: str
) -> None:
    plan = plan_aws_region(aws_fleet, aws_fleet.region(stack))
    rules = security_group_rules(plan, aws_fleet.standard)
    inbound: dict[str, list[dict[str, Any]]] = evaluated(stack).outputs["inbound"]
    for host in plan.hosts:
        expected = {
            (flow, rule.port)
            for rule in rules
            if rule.group == host.component and rule.direction == "ingress"
            for flow in rule.flows
        }
        allowed = {(e["flow"], port) for e in inbound[host.name] for port in e["ports"]}
        assert allowed == expected, host.name


def test_inbound_sources_are_networks_the_design_names(
    evaluated: Callable[[str], Evaluation], aws_fleet: Fleet, stack: str
) -> None:
    plan = plan_aws_region(aws_fleet, aws_fleet.region(stack))
    named = {ip_network(c) for c in (*plan.admin_cidrs, *plan.call_centre_cidrs)}
    named |= {ip_network(c) for child in plan.children for c in child.cidrs}
    vpc = ip_network(plan.vpc_cidr)
    for host, entries in evaluated(stack).outputs["inbound"].items():
        for entry in entries:
            assert entry["sources"], (host, entry)
            for source in map(ip_network, entry["sources"]):
                assert source.subnet_of(vpc) or source in named, (host, entry)  # type: ignore[arg-type]


def test_the_stack_outputs_complete_the_roles_contract(
    evaluated: Callable[[str], Evaluation], aws_fleet: Fleet, stack: str
) -> None:
    """What `regionstack inventory` builds from this program's outputs leaves nothing of
    roles/README.md missing: the roles get past their preflight on aws hosts."""
    outputs = evaluated(stack).outputs
    config = json.loads(outputs["effective_config_json"])
    group_vars, host_vars, missing = build_aws_group_vars(
        config, Connection(ssm_bucket="ops-bucket"), {**outputs, "effective_config": config}
    )
    assert missing == ()
    assert sorted(host_vars) == sorted(_hosts(aws_fleet, stack))
    for name, values in host_vars.items():
        assert values["regionstack_address"] == f"{name}.{stack}.internal"
        assert values["regionstack_internal_name"] == f"{name}.{stack}.internal"
        assert values["regionstack_tls_server_cert_pem"].startswith("-----BEGIN CERTIFICATE")
        assert values["regionstack_inbound"]
    assert sorted(group_vars["regionstack_secrets"]) == sorted(SERVICE_SECRET_NAMES)
