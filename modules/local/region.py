"""A region on the local target: its image, admin key, network, firewall and machines."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.local.plan import RegionPlan
from infra.names import region_domain
from modules.admin_key import AdminKey, AdminKeyInputs
from modules.local.firewall import Firewall, FirewallInputs
from modules.local.image import Image, ImageInputs
from modules.local.machine import Machine, MachineInputs
from modules.local.network import Network, NetworkInputs


@dataclass
class LocalRegionArgs:
    plan: RegionPlan
    image_digest: pulumi.Input[str]
    ruleset: pulumi.Input[str]  # the region's nftables script, from the flow matrix
    apt_upstream: pulumi.Input[str]  # the Debian mirror the controller's apt uses
    admin_user: pulumi.Input[str]
    state_root: pulumi.Input[str]
    apt_security_upstream: pulumi.Input[str] | None = None  # its security archive, if any
    apt_cache_dir: pulumi.Input[str] | None = None  # the gateway's package cache, kept


class LocalRegion(pulumi.ComponentResource):
    """Every host of the region as a systemd-nspawn machine on the region's bridge."""

    def __init__(
        self, name: str, args: LocalRegionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:local:LocalRegion", name, None, opts)
        plan = args.plan
        dns_domain = region_domain(plan.stack)
        self.image = Image(
            f"{name}-image", ImageInputs(args.image_digest), pulumi.ResourceOptions(parent=self)
        )
        self.admin_key = AdminKey(
            f"{name}-admin-key",
            AdminKeyInputs(stack=plan.stack, comment=f"regionstack-{plan.stack}-admin"),
            pulumi.ResourceOptions(parent=self),
        )
        self.network = self._create_network(name, args, dns_domain)
        self.firewall = Firewall(
            f"{name}-firewall",
            FirewallInputs(stack=plan.stack, table=plan.table, ruleset=args.ruleset),
            pulumi.ResourceOptions(parent=self, depends_on=[self.network]),
        )
        self.machines = self._create_machines(name, args, dns_domain)
        self.hosts = {
            component: [{"name": h.name, "address": h.address} for h in plan.hosts_of(component)]
            for component in sorted({h.component for h in plan.hosts})
        }
        self.known_hosts = pulumi.Output.all(
            *[
                pulumi.Output.concat(host.address, " ", machine.ssh_host_ed25519_public_key)
                for host, machine in zip(plan.hosts, self.machines, strict=True)
            ]
        )
        self.register_outputs(
            {
                "hosts": self.hosts,
                "known_hosts": self.known_hosts,
                "admin_user": args.admin_user,
                "admin_private_key": self.admin_key.private_key,
                "bridge": self.network.bridge,
            }
        )

    def _create_network(self, name: str, args: LocalRegionArgs, dns_domain: str) -> Network:
        plan = args.plan
        return Network(
            f"{name}-network",
            NetworkInputs(
                stack=plan.stack,
                bridge=plan.bridge,
                cidr=plan.cidr,
                gateway=plan.gateway,
                prefix_length=plan.prefix_length,
                hosts={h.name: h.address for h in plan.hosts},
                dns_domain=dns_domain,
                apt_upstream=args.apt_upstream,
                apt_security_upstream=args.apt_security_upstream,
                apt_cache_dir=args.apt_cache_dir,
                state_root=args.state_root,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _create_machines(self, name: str, args: LocalRegionArgs, dns_domain: str) -> list[Machine]:
        plan = args.plan
        return [
            Machine(
                f"{name}-{host.name}",
                MachineInputs(
                    name=host.name,
                    stack=plan.stack,
                    address=host.address,
                    prefix_length=plan.prefix_length,
                    gateway=plan.gateway,
                    bridge=plan.bridge,
                    rootfs=self.image.rootfs,
                    state_root=args.state_root,
                    admin_user=args.admin_user,
                    admin_public_key=self.admin_key.public_key,
                    dns_domain=dns_domain,
                ),
                # Machines go before the network and firewall on destroy, and boot only once
                # the bridge and the flow matrix are in place.
                pulumi.ResourceOptions(parent=self, depends_on=[self.network, self.firewall]),
            )
            for host in plan.hosts
        ]
