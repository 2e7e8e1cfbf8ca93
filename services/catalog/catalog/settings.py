"""All configuration comes from the environment, read here and nowhere else."""

import os
from dataclasses import dataclass


class SettingsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str


def from_environment(environ=os.environ) -> Settings:
    if not environ.get("CATALOG_DATABASE_URL"):
        raise SettingsError(
            "missing environment variable: CATALOG_DATABASE_URL "
            "(PostgreSQL DSN, e.g. postgresql://catalog@db/catalog)"
        )
    return Settings(database_url=environ["CATALOG_DATABASE_URL"])
