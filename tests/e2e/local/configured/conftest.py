"""One configured deployment of the sample hierarchy, shared by this package's suites.

`pulumi up` of province, city and two counties with the roles (the default: the Playbook
resource runs the site playbook on every host). Province, city and 淳安县 (chunan) boot from
the image layers the roles bake (built first when the cache lacks them) and get the roles'
`boot` tasks only; 桐庐县 (tonglu) stays on the bare base image and converges by every task,
the proof that each role still works from Debian's minimal system. The suites
run in file order on it: convergence and idempotence first (nothing may have disturbed the
hosts yet), then verification and the request flows, then faults; the package's teardown
destroys everything and checks that nothing is left.

It is part of every test run, CI's included (docs/performance.md has its figures; most of
it is the bare county converging from nothing). A developer's quick
run may leave it out with `REGIONSTACK_E2E_CONFIGURED=0 bash scripts/test.sh`. The main job
(`scripts/main.sh`) deploys and verifies the same hierarchy outside the test runner.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.local.hierarchy import Deployment, deployed_hierarchy


@pytest.fixture(scope="package")
def hierarchy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if os.environ.get("REGIONSTACK_E2E_CONFIGURED") == "0":
        pytest.skip("left out by REGIONSTACK_E2E_CONFIGURED=0")
    with deployed_hierarchy(tmp_path_factory, configure=True) as deployment:
        yield deployment
