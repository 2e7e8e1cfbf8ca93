"""A region on the local target: its image, admin key, network, firewall and machines."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.layers import BASE
from infra.local.plan import RegionPlan
from infra.names import region_domain
from modules.admin_key import AdminKey, AdminKeyInputs
from modules.local.firewall import Firewall, FirewallInputs
from modules.local.image import Image, ImageInputs
from modules.local.layers import ImageLayers, ImageLayersInputs
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
    # Baked hosts: the image layers they boot from (`base` and their components', by
    # digest) and the checkout that bakes them; None: hosts boot the bare image.
    layers: ImageLayersInputs | None = None


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
        self.layers = (
            None
            if args.layers is None
            else ImageLayers(f"{name}-layers", args.layers, pulumi.ResourceOptions(parent=self))
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
        # What each host booted from, and what a host of its component boots from now: the
        # site playbook applies only the `boot` tasks where the two agree (infra/playbook.py).
        self.image_layers = pulumi.Output.all(
            **{
                host.name: machine.layers
                for host, machine in zip(plan.hosts, self.machines, strict=True)
            }
        )
        self.current_layers = pulumi.Output.all(
            **{host.name: self._host_layers(host.component) for host in plan.hosts}
        )
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
                "image_layers": self.image_layers,
                "current_layers": self.current_layers,
            }
        )

    def _host_layers(self, component: str) -> pulumi.Input[list[str]]:
        """The lower dirs above the image for a host of `component`, topmost first."""
        if self.layers is None:
            return []
        return self.layers.roots.apply(lambda roots: [roots[component], roots[BASE]])

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
                    layers=self._host_layers(host.component),
                    state_root=args.state_root,
                    admin_user=args.admin_user,
                    admin_public_key=self.admin_key.public_key,
                    dns_domain=dns_domain,
                ),
                # Machines go before the network and firewall on destroy, and boot only once
                # the bridge and the flow matrix are in place.
                # A deployed host keeps the layers it was created from: a role's change
                # reaches it through the site playbook, not by a rebuild that would lose
                # its data (docs/adr/0006-baked-image-layers.md).
                pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[self.network, self.firewall],
                    ignore_changes=["layers"],
                ),
            )
            for host in plan.hosts
        ]
