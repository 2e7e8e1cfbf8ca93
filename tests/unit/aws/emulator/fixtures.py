"""The AWS emulator these tests run against: moto's server on loopback, never AWS.

`emulator` starts `moto_server` on 127.0.0.1 on a free port once per session and stops it
at the end. Every test that uses the emulator (`emulator_only`: the tests of
`infra/aws/audit/`, `infra/aws/inventory.py`, `infra/aws/images.py` and the CLI's aws
commands) runs with AWS_ENDPOINT_URL pointing at it, dummy credentials and no AWS
configuration files, and fails before it starts if the endpoint is anything but
loopback, so no boto3 call (the tests', the audit's, the inventory plugin's in
`ansible-inventory`) can reach a real endpoint. tests/unit/aws/conftest.py makes these
fixtures available to every test under tests/unit/aws/.

Each scenario lives in its own emulated account (STS AssumeRole into a fresh account id:
moto keeps accounts apart), so scenarios never see each other and need no reset.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.config.loader import Fleet, load_fleet
from tests.unit.aws.emulator import (
    AWS_VARIABLES,
    LOOPBACK,
    NONCOMPLIANT,
    emulator_env,
    free_port,
)
from tests.unit.aws.emulator.account import (
    BuiltRegion,
    assume_account,
    build_region,
    make_noncompliant,
)

ROOT = Path(__file__).resolve().parents[4]
FLEET_FILE = Path(__file__).resolve().parent / "regions.yaml"
MOTO_SERVER = Path(sys.executable).parent / "moto_server"
START_TIMEOUT_SECONDS = 60


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"moto_server exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail(
        f"moto_server did not answer on {url} in {START_TIMEOUT_SECONDS} s:\n{log.read_text()}"
    )


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The emulator's endpoint URL, http://127.0.0.1:<port>."""
    if not MOTO_SERVER.is_file():
        pytest.fail(f"{MOTO_SERVER} is missing: install the dev extras (`pip install -e '.[dev]'`)")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(MOTO_SERVER), "-H", LOOPBACK, "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its catalogue of public images is not needed and costs seconds per region.
            env={**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"},
        )
    url = f"http://{LOOPBACK}:{port}"
    try:
        _wait_until_up(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def emulator_only(emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test talks to the emulator and nothing else."""
    for variable in AWS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for key, value in emulator_env(emulator).items():
        monkeypatch.setenv(key, value)
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if not endpoint.startswith(f"http://{LOOPBACK}:"):
        pytest.fail(f"AWS_ENDPOINT_URL is {endpoint!r}, not the loopback emulator: refusing to run")


@pytest.fixture(scope="session")
def emulated_fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real standard and tiers with the test regions, as a `stacks/` directory."""
    root = tmp_path_factory.mktemp("aws-emulated") / "stacks"
    (root / "regions").mkdir(parents=True)
    shutil.copy(ROOT / "stacks" / "standard.yaml", root / "standard.yaml")
    shutil.copytree(ROOT / "stacks" / "tiers", root / "tiers")
    shutil.copy(FLEET_FILE, root / "regions" / FLEET_FILE.name)
    return root


@pytest.fixture(scope="session")
def emulated_fleet(emulated_fleet_dir: Path) -> Fleet:
    return load_fleet(emulated_fleet_dir)


@pytest.fixture(scope="session")
def deployed(emulator: str, emulated_fleet: Fleet) -> Callable[[str, str], BuiltRegion]:
    """`deployed(stack, scenario)`: the stack as deployed in the scenario's own account,
    compliant or with every violation of tests/unit/aws/emulator/account.py; built once."""
    built: dict[tuple[str, str], BuiltRegion] = {}

    def get(stack: str, scenario: str) -> BuiltRegion:
        key = (stack, scenario)
        if key not in built:
            region = emulated_fleet.region(stack)
            account = assume_account(emulator, region, len(built) + 1)
            region_built = build_region(account, emulated_fleet, region)
            built[key] = (
                make_noncompliant(region_built) if scenario == NONCOMPLIANT else region_built
            )
        return built[key]

    return get
