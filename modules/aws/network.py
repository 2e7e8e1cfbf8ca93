"""The region's VPC: public, private and data subnets per zone, NAT, routes.

Only the public subnets route to the internet gateway, and nothing is given a public
address on launch: the load balancer and the NAT gateways are the region's only public
faces. Private and data subnets leave through their zone's NAT gateway, so a zone does
not lose its egress when another zone fails. The VPC's default security group is taken
over with no rules, so nothing attached to it by mistake can talk (MLPS 8.1.3.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pulumi
import pulumi_aws as aws

from infra.aws.plan import AwsRegionPlan, SubnetTier


@dataclass
class NetworkArgs:
    plan: AwsRegionPlan
    zone_names: pulumi.Input[list[str]]  # the region's availability zones, sorted


class Network(pulumi.ComponentResource):
    """VPC, subnets, internet gateway, one NAT gateway per zone, route tables."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:Network", name, None, opts)
        plan = args.plan
        self._tags = plan.tags
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=plan.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=self._named(f"{plan.stack}-vpc"),
            opts=child,
        )
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            tags=self._named(f"{plan.stack}-default-unused"),
            opts=child,
        )
        zone_names = pulumi.Output.from_input(args.zone_names)
        self.subnet_ids: dict[SubnetTier, list[pulumi.Output[str]]] = {}
        subnets: dict[tuple[SubnetTier, int], aws.ec2.Subnet] = {}
        for subnet in plan.subnets:
            resource = aws.ec2.Subnet(
                f"{name}-{subnet.tier}-{subnet.zone + 1}",
                vpc_id=self.vpc.id,
                cidr_block=subnet.cidr,
                availability_zone=zone_names.apply(partial(_zone, subnet.zone)),
                map_public_ip_on_launch=False,
                tags=self._named(f"{plan.stack}-{subnet.tier}-{subnet.zone + 1}"),
                opts=child,
            )
            subnets[(subnet.tier, subnet.zone)] = resource
            self.subnet_ids.setdefault(subnet.tier, []).append(resource.id)
        self._create_routes(name, plan, subnets)
        self.vpc_id = self.vpc.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "subnet_ids": {tier: ids for tier, ids in self.subnet_ids.items()},
            }
        )

    def _named(self, value: str) -> dict[str, str]:
        return {**self._tags, "Name": value}

    def _create_routes(
        self,
        name: str,
        plan: AwsRegionPlan,
        subnets: dict[tuple[SubnetTier, int], aws.ec2.Subnet],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=self._named(f"{plan.stack}-igw"), opts=child
        )
        public = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags=self._named(f"{plan.stack}-public"),
            opts=child,
        )
        for (tier, zone), subnet in subnets.items():
            if tier == "public":
                aws.ec2.RouteTableAssociation(
                    f"{name}-public-{zone + 1}-rta",
                    subnet_id=subnet.id,
                    route_table_id=public.id,
                    opts=child,
                )
        for zone in range(plan.zones):
            address = aws.ec2.Eip(
                f"{name}-nat-{zone + 1}-eip",
                domain="vpc",
                tags=self._named(f"{plan.stack}-nat-{zone + 1}"),
                opts=child,
            )
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{zone + 1}",
                allocation_id=address.id,
                subnet_id=subnets[("public", zone)].id,
                tags=self._named(f"{plan.stack}-nat-{zone + 1}"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
            )
            table = aws.ec2.RouteTable(
                f"{name}-private-{zone + 1}-rt",
                vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags=self._named(f"{plan.stack}-private-{zone + 1}"),
                opts=child,
            )
            for tier in ("private", "data"):
                aws.ec2.RouteTableAssociation(
                    f"{name}-{tier}-{zone + 1}-rta",
                    subnet_id=subnets[(tier, zone)].id,
                    route_table_id=table.id,
                    opts=child,
                )


def _zone(index: int, names: list[str]) -> str:
    return names[index]
