"""Design rules: what a region's effective configuration must say for the controls that
depend on it to hold, checked without a deployed host.

A control names the configuration keys it depends on (`config_keys` in
compliance/controls.yaml); when the effective config breaks a rule on one of those keys,
the control is `failing` by design, whatever the hosts do. The limits the schema already
sets (retention, TLS floor) are read from the schema, never restated, so a revision that
loosened the schema would still be caught here; the rest are the ones the schema cannot
say (forward-secret ciphers, who may reach what in the flow matrix), the same ones the
policy pack checks on the resources built from this configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, get_args

import annotated_types

from infra.config.effective import ABSENT
from infra.config.schema import Standard, TlsPolicy


def _schema_minimum(model: type[Standard], field_name: str) -> int:
    for constraint in model.model_fields[field_name].metadata:
        if isinstance(constraint, annotated_types.Ge):
            minimum: int = constraint.ge  # type: ignore[assignment]
            return minimum
    raise LookupError(f"{model.__name__}.{field_name} has no lower bound in the schema")


LOG_RETENTION_MINIMUM = _schema_minimum(Standard, "log_retention_days")
TLS_VERSIONS = get_args(TlsPolicy.model_fields["min_version"].annotation)
# The flow matrix's public endpoint and the one component citizens may reach from it.
INTERNET, PUBLIC_COMPONENT = "internet", "portal"
ADMIN, SSH_PORT = "admin", 22
LOG_COLLECTOR = "security_monitoring"
# Forward secrecy (ephemeral key exchange) and an AEAD cipher, in OpenSSL's names.
FORWARD_SECRET_PREFIXES = ("ECDHE-", "DHE-")
AEAD_MARKERS = ("-GCM-", "CHACHA20", "-CCM")


@dataclass(frozen=True)
class DesignRule:
    key: str  # the effective-config key path the rule reads ("standard.tls.ciphers")
    title: str
    check: Callable[[Any], list[str]]  # the value at `key` -> one message per breach


@dataclass(frozen=True, order=True)
class Breach:
    key: str
    message: str

    def to_text(self) -> str:
        return f"{self.key}: {self.message}"


def _retention(days: Any) -> list[str]:
    if isinstance(days, int) and days >= LOG_RETENTION_MINIMUM:
        return []
    return [f"logs kept {days} days, fewer than the {LOG_RETENTION_MINIMUM} the law requires"]


def _tls_floor(version: Any) -> list[str]:
    if version in TLS_VERSIONS:
        return []
    return [f"TLS {version} accepted; the floor is one of {', '.join(TLS_VERSIONS)}"]


def _ciphers(ciphers: Any) -> list[str]:
    return [
        f"cipher {name} is not a forward-secret AEAD suite"
        for name in ciphers or []
        if not (
            str(name).startswith(FORWARD_SECRET_PREFIXES)
            and any(marker in str(name) for marker in AEAD_MARKERS)
        )
    ]


def _public_exposure(flows: Any) -> list[str]:
    return [
        f"flow {f['name']} opens {f['to']} to the internet; only the {PUBLIC_COMPONENT} is public"
        for f in flows or []
        if f["from"] == INTERNET and f["to"] != PUBLIC_COMPONENT
    ]


def _ssh_from_admin_only(flows: Any) -> list[str]:
    return [
        f"flow {f['name']} opens SSH to {f['from']}; administration comes from {ADMIN} only"
        for f in flows or []
        if SSH_PORT in f["ports"] and f["from"] != ADMIN
    ]


def _central_logs(flows: Any) -> list[str]:
    if any(f["from"] == "all_hosts" and f["to"] == LOG_COLLECTOR for f in flows or []):
        return []
    return [f"no flow carries every host's logs to {LOG_COLLECTOR}"]


RULES: tuple[DesignRule, ...] = (
    DesignRule("standard.log_retention_days", "log retention", _retention),
    DesignRule("standard.tls.min_version", "TLS floor", _tls_floor),
    DesignRule("standard.tls.ciphers", "forward-secret AEAD ciphers", _ciphers),
    DesignRule("standard.flows", "only the portal is public", _public_exposure),
    DesignRule("standard.flows", "SSH from the admin networks only", _ssh_from_admin_only),
    DesignRule("standard.flows", "central log collection", _central_logs),
)


def value_at(config: Any, key: str) -> Any:
    """The value at a dotted key path of an effective config, or ABSENT."""
    value = config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return ABSENT
        value = value[part]
    return value


def related(key: str, other: str) -> bool:
    """Whether two key paths overlap: equal, or one is a parent of the other."""
    return key == other or key.startswith(other + ".") or other.startswith(key + ".")


def rules_for(config_keys: Iterable[str]) -> tuple[DesignRule, ...]:
    keys = tuple(config_keys)
    return tuple(rule for rule in RULES if any(related(rule.key, k) for k in keys))


def breaches(config: Any, rules: Iterable[DesignRule]) -> list[Breach]:
    """Every breach of `rules` in an effective config, sorted."""
    found = {
        Breach(rule.key, message)
        for rule in rules
        if (value := value_at(config, rule.key)) is not ABSENT
        for message in rule.check(value)
    }
    return sorted(found)
