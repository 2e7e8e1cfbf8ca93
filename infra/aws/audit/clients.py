"""boto3 as every check uses it: the clients of one region, pages, error codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]  # boto3 ships no type information
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

# A short retry budget: an audit that cannot reach the API should say so, not hang.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10)


class AwsClients:
    """boto3 clients of one region, with an optional endpoint (an emulator)."""

    def __init__(self, region: str, endpoint_url: str | None = None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}

    def has_credentials(self) -> bool:
        return self._session.get_credentials() is not None

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, endpoint_url=self.endpoint_url, config=BOTO_CONFIG
            )
        return self._clients[service]


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))
