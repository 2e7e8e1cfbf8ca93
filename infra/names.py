"""The names a region's hosts go by, the one home of the host-naming rule: the local
plan, the aws plan and tags, the certificates, the local gateway's DNS and the inventory
all name hosts from here (a module of its own: the CLI reads it without loading the PKI's
cryptography)."""

from __future__ import annotations

# The component whose first host federates with the neighbouring regions' exchanges.
FEDERATED_COMPONENT = "data_exchange"


def hostname_part(component: str) -> str:
    """`data_exchange` -> `data-exchange`: host names cannot carry underscores (RFC 1123)."""
    return component.replace("_", "-")


def host_name(stack: str, component: str, index: int) -> str:
    """Host `index` (1-based) of a component: `<stack>-<component>-<n>`, e.g.
    `ningxia-data-exchange-1`; the hostname, the local machine name and the aws `Name` tag."""
    return f"{stack}-{hostname_part(component)}-{index}"


def exchange_host(stack: str) -> str:
    """The name of a region's first exchange host, the one federation links use (and the
    name its peers' certificates carry)."""
    return host_name(stack, FEDERATED_COMPONENT, 1)


def region_domain(stack: str) -> str:
    """The region's internal DNS domain: what the local gateway serves, and the suffix of
    the names every host certificate carries."""
    return f"{stack}.internal"


def internal_name(host: str, stack: str) -> str:
    """A host's region-internal name: in its certificates, and how peers reach an aws host."""
    return f"{host}.{region_domain(stack)}"
