"""The logical names of the resources a region's program declares, computed from the
configuration alone (no Pulumi run), for the scope of waivers.

The names follow the programs' naming (infra/program/, modules/): hosts by
`infra.names.host_name`, components as `<stack>-<component>` with their children
`<component name>-<suffix>`. tests/unit/compliance/test_resources.py holds this against
the local program's URN snapshots, so a renamed resource cannot leave waivers dangling.
"""

from __future__ import annotations

from infra.config.loader import Fleet
from infra.config.schema import Region
from infra.names import host_name, hostname_part

# Per program, the children of the region's component that exist once per region.
_LOCAL_CHILDREN = ("admin-key", "firewall", "image", "network")
_AWS_CHILDREN = ("kms", "network", "sg", "edge", "hosts", "logs", "detection")
_CERTIFICATE_KINDS = ("client", "server")


def host_names(region: Region) -> list[str]:
    """Every host of the region: `<stack>-<component>-<n>`."""
    return [
        host_name(region.stack, component, index)
        for component, group in sorted(region.host_groups.items())
        for index in range(1, group.count + 1)
    ]


def resource_names(fleet: Fleet, region: Region) -> set[str]:
    """The logical names of the region's resources (hosts first among them)."""
    stack = region.stack
    hosts = host_names(region)
    pki = f"{stack}-pki"
    names = {stack, f"{stack}-site", f"{stack}-service-secrets", pki, *hosts}
    names.update(f"{pki}-{host}-{kind}" for host in hosts for kind in _CERTIFICATE_KINDS)
    # A region without a parent holds the root CA; each region issues its children's CAs.
    names.update({f"{pki}-ca"} if region.parent is None else set())
    names.update(f"{pki}-child-{child.code}" for child in fleet.children(region))
    if region.local is not None:
        local = f"{stack}-local"
        names.add(local)
        names.update(f"{local}-{child}" for child in _LOCAL_CHILDREN)
        names.update({f"{local}-layers"} if region.local.image == "baked" else set())
        names.update(f"{local}-{host}" for host in hosts)
    else:
        component = f"{stack}-aws-region"
        names.update((f"{stack}-aws", f"{stack}-images", component))
        names.update(f"{component}-{child}" for child in _AWS_CHILDREN)
        names.update(f"{component}-{hostname_part(c)}" for c in region.host_groups)
    return names
