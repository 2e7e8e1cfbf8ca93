"""All configuration comes from the environment, read here and nowhere else."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

REQUIRED = {
    "PORTAL_CONFIG": "path of the JSON file rendered from the region's effective config",
    "PORTAL_HOTLINE_URL": "base URL of the hotline API, e.g. https://hotline.example:8443",
    "PORTAL_SECRET_KEY": "random secret that signs the session cookie (CSRF tokens live there)",
}


class SettingsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    region_code: str
    region_name: str
    sections: list[dict]
    hotline_url: str
    secret_key: str
    hotline_ca_file: str | None = None  # None: the system's CA bundle
    cookie_secure: bool = True  # the portal is only served over HTTPS behind nginx


def load_portal_config(path: str) -> dict:
    """{"region": {"code": "330127", "name": "淳安县"}, "sections": [{"id": …, "title": …}, …]}"""
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    problems = []
    if not config.get("region", {}).get("name"):
        problems.append("region.name is missing")
    if not config.get("sections") or not all({"id", "title"} <= set(s) for s in config["sections"]):
        problems.append("sections must be a non-empty list of {id, title}")
    if problems:
        raise SettingsError(f"{path}: " + "; ".join(problems))
    return config


def from_environment(environ=os.environ) -> Settings:
    missing = [f"{name} ({hint})" for name, hint in REQUIRED.items() if not environ.get(name)]
    if missing:
        raise SettingsError("missing environment variables: " + "; ".join(missing))
    config = load_portal_config(environ["PORTAL_CONFIG"])
    return Settings(
        region_code=config["region"].get("code", ""),
        region_name=config["region"]["name"],
        sections=config["sections"],
        hotline_url=environ["PORTAL_HOTLINE_URL"],
        secret_key=environ["PORTAL_SECRET_KEY"],
        hotline_ca_file=environ.get("PORTAL_HOTLINE_CA_FILE") or None,
    )
