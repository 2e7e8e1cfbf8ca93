"""The names a region's hosts go by inside the region, shared by the certificates, the
local gateway's DNS and the inventory (a module of its own: the CLI reads it without
loading the PKI's cryptography)."""

from __future__ import annotations


def region_domain(stack: str) -> str:
    """The region's internal DNS domain: what the local gateway serves, and the suffix of
    the names every host certificate carries."""
    return f"{stack}.internal"


def internal_name(host: str, stack: str) -> str:
    """A host's region-internal name: in its certificates, and how peers reach an aws host."""
    return f"{host}.{region_domain(stack)}"
