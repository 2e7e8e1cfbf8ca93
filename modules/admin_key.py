"""The region's administration key pair, generated at deploy time.

The private key exists only in the stack's state, encrypted as a Pulumi secret; it never
lands in the repository. Hosts trust the public key for the admin user, which is the only
way in. Rotating the key is `pulumi up --replace <urn>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pulumi.dynamic import CreateResult, Resource

from modules.props import StateOnlyProvider, input_props, untyped_alias


@dataclass
class AdminKeyInputs:
    stack: pulumi.Input[str]
    comment: pulumi.Input[str]


def generate_key_pair(comment: str) -> tuple[str, str]:
    """An Ed25519 key pair as (OpenSSH private key, authorized_keys line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, f"{public} {comment}"


class AdminKeyProvider(StateOnlyProvider):
    # The key lives only in state. A different stack or comment is a different identity:
    # a new key pair.
    INPUT_KEYS = ("stack", "comment")
    REPLACE_KEYS = INPUT_KEYS

    def create(self, props: dict[str, Any]) -> CreateResult:
        private, public = generate_key_pair(props["comment"])
        return CreateResult(
            id_=f"{props['stack']}-admin-key",
            outs={**props, "private_key": private, "public_key": public},
        )


class AdminKey(Resource, module="local", name="AdminKey"):
    """An SSH key pair for the admin user; `private_key` is a secret output."""

    public_key: pulumi.Output[str]
    private_key: pulumi.Output[str]

    def __init__(
        self, name: str, args: AdminKeyInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["private_key"])
        super().__init__(
            AdminKeyProvider(),
            name,
            {
                **input_props(args),
                "public_key": None,
                "private_key": None,
            },
            pulumi.ResourceOptions.merge(untyped_alias(opts), secret),
        )
