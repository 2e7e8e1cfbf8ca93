"""The region's service credentials, generated at deploy time.

Database and message-broker passwords, the hotline's API token, the portal's session key
and the Erlang cookie are random values that exist only in the stack's state, encrypted as
Pulumi secrets. They reach the hosts through the inventory's group_vars (mode 0600, in the
state directory), never through the repository or a log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from modules.props import StateOnlyProvider, input_props, untyped_alias

# Every credential the roles use; roles/README.md lists them for the role authors.
SERVICE_SECRET_NAMES = (
    "rabbitmq_hotline_password",
    "rabbitmq_portal_password",
    "rabbitmq_erlang_cookie",
    "postgres_catalog_password",
    "postgres_hotline_password",
    "postgres_exporter_password",
    "hotline_api_token",
    "portal_secret_key",
)
# 32 bytes of entropy, URL-safe so a value can sit in a DSN or an AMQP URL unescaped.
SECRET_BYTES = 32


def generate(names: list[str], keep: dict[str, str] | None = None) -> dict[str, str]:
    """A value for every name: kept from `keep` when there is one, else new."""
    keep = keep or {}
    return {name: keep.get(name) or secrets.token_urlsafe(SECRET_BYTES) for name in names}


@dataclass
class ServiceSecretsInputs:
    stack: pulumi.Input[str]
    names: pulumi.Input[list[str]]


class ServiceSecretsProvider(StateOnlyProvider):
    INPUT_KEYS = ("stack", "names")
    REPLACE_KEYS = ("stack",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        values = generate(list(props["names"]))
        return CreateResult(
            id_=f"{props['stack']}-service-secrets", outs={**props, "values": values}
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # A new name gets a value; existing ones never change on an update, so adding a
        # service does not rotate every other credential. Rotation is `--replace`.
        return UpdateResult(
            outs={**news, "values": generate(list(news["names"]), dict(olds.get("values") or {}))}
        )


class ServiceSecrets(Resource, module="region", name="ServiceSecrets"):
    """Named random credentials; `values` is a secret output."""

    values: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: ServiceSecretsInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["values"])
        super().__init__(
            ServiceSecretsProvider(),
            name,
            {**input_props(args), "values": None},
            pulumi.ResourceOptions.merge(untyped_alias(opts), secret),
        )
