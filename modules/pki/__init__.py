"""The region PKI as Pulumi dynamic providers: region CAs and host certificates; the
component that issues a region's whole set is `region` (RegionPki), the certificates' crypto
infra/pki.py. The providers stay in this module: deployed stacks name them by this path.

How a child region's CA gets signed across stacks. A region stack reads its parent's
exchange address and CA through a StackReference; the question is who holds which key.

1. **CSR round trip.** The child generates its CA key and a CSR and exports the CSR; the
   parent stack reads it through a StackReference, signs it and exports the certificate;
   the child reads that back. No private key ever leaves its stack — the textbook answer —
   but every new child needs child → parent → child deployments, the two stacks reference
   each other (a cycle Pulumi does not order), and a child cannot come up in one pass.
2. **Parent key through a StackReference.** The parent exports its CA key as a secret and
   the child signs its own CA with it. One pass, but every child's state then holds the
   parent's key: a county compromise becomes a province compromise. Rejected.
3. **Parent issues its children's CAs (chosen).** The parent knows its children from the
   unified config, so its stack creates one `RegionCa` per child, signed with its own CA
   key, and exports `child_ca_<code>` = {cert_pem, key_pem, chain_pem} as a secret. The
   child reads only its own entry and uses that key to issue its host certificates and
   its own children's CAs. Keys flow only downward, to an authority the parent already
   controls (it could sign any certificate for the child anyway), deployment stays one
   top-down pass — the same order federation already needs — and it is three resources
   of one provider. Its costs, for the lead to weigh: the child's CA key also lives in the
   parent's state, and with one passphrase for the whole fleet any stack that can read
   the parent's outputs can decrypt a sibling's entry; per-region secrets providers (or
   option 1) close that when the fleet moves off the local backend.

`RegionCa` is the same resource for a root (no parent) and for a child's CA issued by its
parent; `HostCertificate` issues server and client certificates from a region CA. Private
keys are secret outputs, kept only in the encrypted state; nothing is written outside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    Resource,
    UpdateResult,
)

from infra import pki
from modules.props import StateOnlyProvider, input_props, untyped_alias

# ---- RegionCa ------------------------------------------------------------------------------

_CA_INPUTS = (
    "code",
    "name",
    "parent_ca_cert_pem",
    "parent_ca_key_pem",
    "parent_chain_pem",
    "validity_days",
)
# A new code or name is a new subject; a new parent certificate is a new issuer. Either way
# the CA is a different authority, and certificates issued below it must be re-issued too:
# replace (new key), so dependants see the change.
CA_REPLACE_KEYS = ("code", "name", "parent_ca_cert_pem")
# The parent key is an input only so the signature can be made; it is kept secret too.
CA_SECRET_OUTPUTS = ["key_pem", "parent_ca_key_pem"]


@dataclass
class RegionCaInputs:
    code: pulumi.Input[str]
    name: pulumi.Input[str]
    # Both or neither: without them the CA is a self-signed root (a province, or a region
    # deployed without its parent).
    parent_ca_cert_pem: pulumi.Input[str] | None = None
    parent_ca_key_pem: pulumi.Input[str] | None = None
    # The parent's own chain (parent first, up to the root); defaults to the parent cert.
    parent_chain_pem: pulumi.Input[str] | None = None
    validity_days: pulumi.Input[int] = pki.DEFAULT_CA_VALIDITY_DAYS


def _issue_ca(props: dict[str, Any], key_pem: str | None = None) -> dict[str, Any]:
    issued = pki.create_region_ca(
        props["code"],
        props["name"],
        parent_cert_pem=props.get("parent_ca_cert_pem") or None,
        parent_key_pem=props.get("parent_ca_key_pem") or None,
        validity_days=int(props.get("validity_days") or pki.DEFAULT_CA_VALIDITY_DAYS),
        key_pem=key_pem,
    )
    parent_chain = props.get("parent_chain_pem") or props.get("parent_ca_cert_pem") or None
    cert = pki.load_certificate(issued.cert_pem)
    return {
        "cert_pem": issued.cert_pem,
        "key_pem": issued.key_pem,
        "chain_pem": pki.ca_chain_pem(issued.cert_pem, parent_chain),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


class RegionCaProvider(StateOnlyProvider):
    INPUT_KEYS = _CA_INPUTS
    REPLACE_KEYS = CA_REPLACE_KEYS

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = _issue_ca(props)
        return CreateResult(id_=f"{props['code']}-ca", outs={**props, **outs})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # Validity or the parent's chain changed: re-issue for the same key and subject, so
        # every certificate already issued below this CA stays valid.
        return UpdateResult(outs={**news, **_issue_ca(news, key_pem=olds["key_pem"])})


class RegionCa(Resource, module="pki", name="RegionCa"):
    """A region's certificate authority; `key_pem` is a secret output.

    `chain_pem` is this CA followed by its parents up to the root: what the region's TLS
    endpoints send after their own certificate.
    """

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]
    chain_pem: pulumi.Output[str]
    not_after: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegionCaInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=CA_SECRET_OUTPUTS)
        super().__init__(
            RegionCaProvider(),
            name,
            {
                **input_props(args),
                "cert_pem": None,
                "key_pem": None,
                "chain_pem": None,
                "not_after": None,
            },
            pulumi.ResourceOptions.merge(untyped_alias(opts), secret),
        )


# ---- HostCertificate -----------------------------------------------------------------------

_HOST_INPUTS = (
    "ca_cert_pem",
    "ca_key_pem",
    "ca_chain_pem",
    "host",
    "address",
    "stack",
    "kind",
    "organization",
    "validity_days",
)
# Who the certificate is for (host, stack) and what it may do (kind) define it: a change is
# a new certificate with a new key. Anything else (address, CA re-issue, validity) re-signs
# the same key in place.
HOST_REPLACE_KEYS = ("host", "stack", "kind")
HOST_SECRET_OUTPUTS = ["key_pem", "ca_key_pem"]


@dataclass
class HostCertificateInputs:
    ca_cert_pem: pulumi.Input[str]
    ca_key_pem: pulumi.Input[str]
    host: pulumi.Input[str]
    # Its IP address, a SAN besides its names; "" where it is not known in advance (aws).
    address: pulumi.Input[str]
    stack: pulumi.Input[str]
    kind: pulumi.Input[str] = "server"  # server | client
    # The CA's chain (CA first, up to the root), appended to the leaf in `chain_pem`.
    ca_chain_pem: pulumi.Input[str] | None = None
    # O of the subject: the agency or region; defaults to the CA's.
    organization: pulumi.Input[str] | None = None
    validity_days: pulumi.Input[int] = pki.DEFAULT_LEAF_VALIDITY_DAYS


def _issue_host(props: dict[str, Any], key_pem: str | None = None) -> dict[str, Any]:
    issued = pki.issue_host_certificate(
        props["ca_cert_pem"],
        props["ca_key_pem"],
        host=props["host"],
        address=props.get("address") or None,
        stack=props["stack"],
        kind=props.get("kind") or "server",
        organization=props.get("organization") or None,
        validity_days=int(props.get("validity_days") or pki.DEFAULT_LEAF_VALIDITY_DAYS),
        key_pem=key_pem,
    )
    ca_chain = props.get("ca_chain_pem") or props["ca_cert_pem"]
    return {
        "cert_pem": issued.cert_pem,
        "key_pem": issued.key_pem,
        "chain_pem": issued.cert_pem + ca_chain,
        "not_after": pki.load_certificate(issued.cert_pem).not_valid_after_utc.isoformat(),
    }


class HostCertificateProvider(StateOnlyProvider):
    INPUT_KEYS = _HOST_INPUTS
    REPLACE_KEYS = HOST_REPLACE_KEYS

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = _issue_host(props)
        return CreateResult(
            id_=f"{props['stack']}-{props['host']}-{props.get('kind') or 'server'}",
            outs={**props, **outs},
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, **_issue_host(news, key_pem=olds["key_pem"])})


class HostCertificate(Resource, module="pki", name="HostCertificate"):
    """A server or client certificate for one host; `key_pem` is a secret output.

    `chain_pem` is the leaf followed by the CA chain (nginx's `ssl_certificate`).
    """

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]
    chain_pem: pulumi.Output[str]
    not_after: pulumi.Output[str]

    def __init__(
        self, name: str, args: HostCertificateInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=HOST_SECRET_OUTPUTS)
        super().__init__(
            HostCertificateProvider(),
            name,
            {
                **input_props(args),
                "cert_pem": None,
                "key_pem": None,
                "chain_pem": None,
                "not_after": None,
            },
            pulumi.ResourceOptions.merge(untyped_alias(opts), secret),
        )
