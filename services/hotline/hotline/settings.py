"""All configuration comes from the environment, read here and nowhere else."""

import os
from dataclasses import dataclass

REQUIRED = {
    "HOTLINE_DATABASE_URL": "PostgreSQL DSN, e.g. postgresql://hotline@db/hotline",
    "HOTLINE_AMQP_URL": "AMQP URL of the region's exchange, e.g. amqps://hotline:…@exchange:5671/%2F",
    "HOTLINE_REGION_CODE": "GB/T 2260 code of the region, e.g. 330127",
    "HOTLINE_API_TOKEN": "shared secret the call centre and case handlers send as X-Hotline-Token",
}


class SettingsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str
    amqp_url: str
    region_code: str
    api_token: str


def from_environment(environ=os.environ) -> Settings:
    # Report every missing variable at once, so a deployment is fixed in one round.
    missing = [f"{name} ({hint})" for name, hint in REQUIRED.items() if not environ.get(name)]
    if missing:
        raise SettingsError("missing environment variables: " + "; ".join(missing))
    return Settings(
        database_url=environ["HOTLINE_DATABASE_URL"],
        amqp_url=environ["HOTLINE_AMQP_URL"],
        region_code=environ["HOTLINE_REGION_CODE"],
        api_token=environ["HOTLINE_API_TOKEN"],
    )
