"""The region's PKI as one component: its CA, every host's certificates, its children's CAs.

The CA of a region with a parent comes from the parent's stack (`child_ca_<code>`, read
through a StackReference by the program); a region without one is a root. Every host gets
a server certificate (its TLS endpoints) and a client certificate (mutual TLS: federation
to the parent, log forwarding to the monitor). The CAs of the region's configured
children are issued here, signed with this region's key, and exported by the program for
the children's stacks (modules/pki/__init__.py explains why keys flow only downward).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from modules.pki import HostCertificate, HostCertificateInputs, RegionCa, RegionCaInputs


@dataclass(frozen=True)
class PkiHost:
    name: str
    # "" where the address is not known when certificates are issued (aws): DNS SANs only.
    address: str = ""


@dataclass
class RegionPkiArgs:
    code: str
    name: str
    stack: str
    hosts: list[PkiHost]
    # Configured child regions: code -> name.
    children: dict[str, str] = field(default_factory=dict)
    # The CA the parent issued for this region ({cert_pem, key_pem, chain_pem}); None
    # makes this region a root.
    issued_ca: pulumi.Input[dict[str, str]] | None = None


class RegionPki(pulumi.ComponentResource):
    """CA, host certificates and children's CAs of one region; keys are secret outputs."""

    def __init__(
        self, name: str, args: RegionPkiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:pki:RegionPki", name, None, opts)
        self.ca_cert_pem, self.ca_key_pem, self.ca_chain_pem = self._create_ca(name, args)
        self.tls = self._create_host_certificates(name, args)
        self.children = self._create_child_cas(name, args)
        self.register_outputs(
            {"ca_chain_pem": self.ca_chain_pem, "tls": self.tls, "children": self.children}
        )

    def _create_ca(
        self, name: str, args: RegionPkiArgs
    ) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]:
        if args.issued_ca is None:
            root = RegionCa(
                f"{name}-ca",
                RegionCaInputs(code=args.code, name=args.name),
                pulumi.ResourceOptions(parent=self),
            )
            return root.cert_pem, root.key_pem, root.chain_pem
        # The parent issued this region's CA; its key stays a secret here as there.
        issued = pulumi.Output.from_input(args.issued_ca)
        return (
            issued.apply(lambda ca: str(ca["cert_pem"])),
            pulumi.Output.secret(issued.apply(lambda ca: str(ca["key_pem"]))),
            issued.apply(lambda ca: str(ca["chain_pem"])),
        )

    def _create_host_certificates(self, name: str, args: RegionPkiArgs) -> pulumi.Output[Any]:
        material: dict[str, Any] = {}
        for host in args.hosts:
            issued = {
                kind: HostCertificate(
                    f"{name}-{host.name}-{kind}",
                    HostCertificateInputs(
                        ca_cert_pem=self.ca_cert_pem,
                        ca_key_pem=self.ca_key_pem,
                        ca_chain_pem=self.ca_chain_pem,
                        host=host.name,
                        address=host.address,
                        stack=args.stack,
                        kind=kind,
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
                for kind in ("server", "client")
            }
            material[host.name] = {
                "ca_pem": self.ca_chain_pem,
                "server_cert_pem": issued["server"].cert_pem,
                "server_key_pem": issued["server"].key_pem,
                "client_cert_pem": issued["client"].cert_pem,
                "client_key_pem": issued["client"].key_pem,
            }
        return pulumi.Output.secret(material)

    def _create_child_cas(self, name: str, args: RegionPkiArgs) -> pulumi.Output[Any]:
        children: dict[str, Any] = {}
        for code, child_name in sorted(args.children.items()):
            child = RegionCa(
                f"{name}-child-{code}",
                RegionCaInputs(
                    code=code,
                    name=child_name,
                    parent_ca_cert_pem=self.ca_cert_pem,
                    parent_ca_key_pem=self.ca_key_pem,
                    parent_chain_pem=self.ca_chain_pem,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            children[code] = {
                "cert_pem": child.cert_pem,
                "key_pem": child.key_pem,
                "chain_pem": child.chain_pem,
            }
        return pulumi.Output.secret(children)
