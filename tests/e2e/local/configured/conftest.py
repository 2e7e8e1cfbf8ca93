"""One configured deployment of the sample hierarchy, shared by this package's suites.

`pulumi up` of province, city and county with the roles (the default: the Playbook
resource runs the site playbook on every host), from the bare base image — there is no
pre-baked package layer, so every host converges from Debian's minimal system. The suites
run in file order on it: convergence and idempotence first (nothing may have disturbed the
hosts yet), then verification and the request flows, then faults; the package's teardown
destroys everything and checks that nothing is left.

It takes about an hour on a 2-core controller (three configured regions from nothing), so
it runs when asked: `REGIONSTACK_E2E_CONFIGURED=1 bash scripts/test.sh`. The main job
(`scripts/main.sh`) deploys and verifies the same hierarchy outside the test runner.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.local.hierarchy import Deployment, deployed_hierarchy


@pytest.fixture(scope="package")
def hierarchy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if os.environ.get("REGIONSTACK_E2E_CONFIGURED") != "1":
        pytest.skip("the configured hierarchy runs with REGIONSTACK_E2E_CONFIGURED=1 (~1 h)")
    with deployed_hierarchy(tmp_path_factory, configure=True) as deployment:
        yield deployment
