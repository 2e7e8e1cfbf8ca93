"""The agency behind a request, from the client certificate nginx verified.

nginx (`ssl_verify_client on`) passes `X-SSL-Client-Verify: $ssl_client_verify` and
`X-SSL-Client-S-DN: $ssl_client_s_dn` (RFC 2253, e.g. "CN=gw,OU=数据科,O=淳安县大数据局,C=CN").
The headers are only trustworthy because the app listens on loopback behind that nginx,
which must overwrite them on every request.
"""

import re
from dataclasses import dataclass

# Split on commas that are not escaped with a backslash (RFC 2253 §2.4).
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


@dataclass(frozen=True)
class Agency:
    organization: str
    unit: str

    def __str__(self) -> str:
        return f"{self.organization}/{self.unit}" if self.unit else self.organization


def parse_dn(dn: str) -> dict[str, str]:
    attributes = {}
    for part in _UNESCAPED_COMMA.split(dn):
        name, sep, value = part.partition("=")
        if sep:
            attributes[name.strip().upper()] = re.sub(r"\\(.)", r"\1", value.strip())
    return attributes


def verified_agency(headers) -> Agency | None:
    """The agency if nginx verified the certificate and it names an organization."""
    if headers.get("X-SSL-Client-Verify") != "SUCCESS":
        return None
    attributes = parse_dn(headers.get("X-SSL-Client-S-DN", ""))
    if not attributes.get("O"):
        return None
    return Agency(organization=attributes["O"], unit=attributes.get("OU", ""))
