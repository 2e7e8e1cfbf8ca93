"""The roles converge every host of the three sample regions and change nothing twice.

Issue #4's proof: after `pulumi up` (which ran the site playbook) every host runs with no
failed unit, every portal answers over HTTPS with the standard's sections, a second
`pulumi up` changes nothing, and a second `ansible-playbook` reports changed=0 on every
host (naming the tasks when it does not). Then the reviewer's dry run: `ansible-playbook
--check --diff` of the county (every role, and the tasks of a region with a parent) runs
through and predicts no change.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.local.image import DEFAULT_RECIPE
from infra.playbook import SITE_PLAYBOOK, PlaybookProgress, ansible_environment
from infra.probe import probe_portals
from tests.e2e.local.hierarchy import COUNTY, PLANS, STACKS, Deployment, all_hosts, up

# Packages the roles install; none may come pre-installed with the base image, or the
# roles' convergence from a bare host would go unproven.
ROLE_PACKAGES = ("nginx", "rabbitmq-server", "postgresql", "prometheus", "aide", "nftables")


def test_hosts_start_from_the_bare_base_image() -> None:
    baked = sorted(set(ROLE_PACKAGES) & set(DEFAULT_RECIPE.packages))
    assert not baked, f"the base image pre-installs {baked}: the roles must install them"


@pytest.mark.parametrize(("stack", "address"), all_hosts())
def test_every_host_runs_with_no_failed_unit(
    hierarchy: Deployment, stack: str, address: str
) -> None:
    state = hierarchy.ssh(address, "systemctl is-system-running --wait", timeout=120)
    failed = hierarchy.ssh(address, "systemctl --failed --no-legend --plain").stdout
    assert state.stdout.strip() == "running", f"{stack} {address}: {state.stdout}\n{failed}"


@pytest.mark.parametrize("stack", STACKS)
def test_portal_answers_with_the_standard_sections(hierarchy: Deployment, stack: str) -> None:
    checks = probe_portals(stack, hierarchy.regions[stack].inventory.inventory.parent)
    assert len(checks) >= len(PLANS[stack].hosts_of("portal"))
    failed = [f"{c.host}: {c.what}: {c.detail}" for c in checks if not c.ok]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("stack", STACKS)
def test_second_pulumi_up_changes_nothing(hierarchy: Deployment, stack: str) -> None:
    # `up` fails the test itself when the engine finds anything to change.
    output = up(hierarchy.project, stack, "--expect-no-changes")
    assert "unchanged" in output, output


def _rerun(hierarchy: Deployment, stack: str, *extra: str) -> tuple[int, str, PlaybookProgress]:
    workdir = hierarchy.project.workdir
    inventory = hierarchy.regions[stack].inventory.inventory
    playbook = Path(sys.executable).parent / "ansible-playbook"
    result = subprocess.run(
        [str(playbook), "-i", str(inventory), str(workdir / SITE_PLAYBOOK), *extra],
        cwd=workdir,
        env=ansible_environment(workdir),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    progress = PlaybookProgress()
    for line in result.stdout.splitlines():
        progress.read(line)
    return result.returncode, result.stdout, progress


@pytest.fixture(scope="module")
def second_runs(hierarchy: Deployment) -> dict[str, tuple[int, str, PlaybookProgress]]:
    """The site playbook once more on every region, all three at once."""
    with ThreadPoolExecutor(len(STACKS)) as pool:
        runs = pool.map(lambda stack: (stack, _rerun(hierarchy, stack)), STACKS)
        return dict(runs)


def _assert_changed_nothing(run: tuple[int, str, PlaybookProgress], stack: str) -> None:
    returncode, output, progress = run
    assert returncode == 0, progress.describe_failures() or output[-5000:]
    hosts = {h.name for h in PLANS[stack].hosts}
    assert set(progress.changed) == hosts, f"recap hosts {sorted(progress.changed)}"
    changed = {
        host: progress.changed_tasks.get(host, []) for host, n in progress.changed.items() if n
    }
    assert not changed, f"changed: {changed}"


@pytest.mark.parametrize("stack", STACKS)
def test_second_ansible_run_changes_nothing_on_any_host(
    second_runs: dict[str, tuple[int, str, PlaybookProgress]], stack: str
) -> None:
    _assert_changed_nothing(second_runs[stack], stack)


def test_check_mode_runs_through_and_predicts_no_change(
    second_runs: dict[str, tuple[int, str, PlaybookProgress]], hierarchy: Deployment
) -> None:
    # After the second runs (never beside them): the dry run reads what they left.
    _assert_changed_nothing(_rerun(hierarchy, COUNTY, "--check", "--diff"), COUNTY)
