"""How the host suites reach a deployed region.

`regionstack verify STACK` runs each module with `--regionstack-context FILE`: the
region's inventory (and its parent's) resolved by Ansible, and an ssh_config with one
multiplexed connection per host. By hand, `--regionstack-inventory PATH` builds the same
context here:

    .venv/bin/pytest -p no:cacheprovider tests/hosts/test_portal.py \
        --regionstack-inventory ~/.local/state/regionstack/inventory/chunan

Each role module names the inventory group it checks in `GROUP`; the `host` fixture is
parametrized over that group's hosts (ids are the host names), and `inventory` is the
host's variables as a playbook sees them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from infra.verify.context import VerifyContext, build_context
from infra.verify.inventory import resolve_inventory
from infra.verify.ssh import close_connections, open_connections
from tests.hosts.helpers import CONTEXT, connect, verify_context

_WORKDIR = pytest.StashKey[Path]()
_IGNORED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("regionstack")
    group.addoption(
        "--regionstack-context",
        metavar="FILE",
        help="the context `regionstack verify` writes (resolved inventories, ssh_config)",
    )
    group.addoption(
        "--regionstack-inventory",
        metavar="PATH",
        help="a region's inventory directory or file, to run the suites without verify",
    )
    group.addoption(
        "--regionstack-parent-inventory",
        metavar="PATH",
        help="with --regionstack-inventory: the parent region's, for the flows across regions",
    )


def pytest_configure(config: pytest.Config) -> None:
    context_file = config.getoption("--regionstack-context")
    inventory = config.getoption("--regionstack-inventory")
    if context_file:
        config.stash[CONTEXT] = VerifyContext.load(Path(context_file))
        return
    if not inventory:
        if _named_on_the_command_line(config):
            raise pytest.UsageError(
                "the host suites need a deployed region: run `regionstack verify STACK`, "
                "or pass --regionstack-inventory DIR"
            )
        # Collected only as part of a wider run (`pytest tests`): not without a region.
        config.stash[_IGNORED] = True
        return
    path = Path(inventory).expanduser()
    stack = path.name if path.is_dir() else path.parent.name
    region = resolve_inventory(path, stack)
    parent = None
    parent_path = config.getoption("--regionstack-parent-inventory")
    if parent_path:
        parent_dir = Path(parent_path).expanduser()
        parent_stack = parent_dir.name if parent_dir.is_dir() else parent_dir.parent.name
        parent = resolve_inventory(parent_dir, parent_stack)
    workdir = Path(tempfile.mkdtemp(prefix="regionstack-hosts-"))
    config.stash[_WORKDIR] = workdir
    note = (
        "" if parent else "no --regionstack-parent-inventory: the link to the parent is not checked"
    )
    context = VerifyContext.load(build_context(region, parent, note, workdir))
    config.stash[CONTEXT] = context
    open_connections(context)


def _named_on_the_command_line(config: pytest.Config) -> bool:
    here = Path(__file__).resolve().parent
    return any(
        Path(argument.split("::")[0]).resolve().is_relative_to(here) for argument in config.args
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return True if config.stash.get(_IGNORED, False) else None


def pytest_unconfigure(config: pytest.Config) -> None:
    workdir = config.stash.get(_WORKDIR, None)
    if workdir is not None:
        close_connections(config.stash[CONTEXT])
        shutil.rmtree(workdir, ignore_errors=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "host" not in metafunc.fixturenames:
        return
    group = getattr(metafunc.module, "GROUP", None)
    if group is None:
        raise pytest.UsageError(f"{metafunc.module.__name__} names no inventory GROUP")
    region = verify_context(metafunc.config).region
    names = [h.name for h in region.hosts_of(group)]
    # A region without hosts in the group: the module's tests are reported as skipped.
    metafunc.parametrize(
        "host",
        names or [pytest.param(None, marks=pytest.mark.skip(reason=f"no {group} hosts"))],
        ids=names or None,
        indirect=True,
        scope="module",
    )


@pytest.fixture(scope="session")
def context(pytestconfig: pytest.Config) -> VerifyContext:
    return verify_context(pytestconfig)


@pytest.fixture(scope="session")
def region(context: VerifyContext) -> Any:
    return context.region


@pytest.fixture(scope="module")
def host(request: pytest.FixtureRequest, context: VerifyContext) -> Any:
    return connect(context, request.param)


@pytest.fixture(scope="module")
def inventory(host: Any, context: VerifyContext) -> dict[str, Any]:
    """The host's variables: hostvars, `groups`, `inventory_hostname`, like a playbook's."""
    name = host.backend.hostname
    return context.owner(name).variables(name)


@pytest.fixture(scope="module")
def config(inventory: dict[str, Any]) -> dict[str, Any]:
    """The region's effective configuration, as deployed."""
    return inventory["regionstack_config"]


@pytest.fixture(scope="module")
def standard(config: dict[str, Any]) -> dict[str, Any]:
    return config["standard"]
