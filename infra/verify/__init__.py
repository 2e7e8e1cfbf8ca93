"""`regionstack verify STACK`: the host suites of `tests/hosts` against a deployed region.

The region is reached through its Ansible inventory only (`regionstack inventory STACK`
on the local target, the tag inventory on AWS), so the same suites check any region:

1. the inventory is resolved once with `ansible-inventory --list` (static files and
   inventory plugins alike) and written, with the parent region's when it exists, to a
   private context file the suites read (`tests/hosts/conftest.py`);
2. an ssh_config generated from the inventory keeps one multiplexed connection per host
   (ControlMaster), opened up front for all hosts at once: a command then costs one
   round trip instead of an ssh handshake or an Ansible run (`--force-ansible` took ~20
   min for `common` on 13 hosts);
3. one pytest process per role runs concurrently (the suites wait on the network, not on
   the CPU), each writing JUnit XML; the reports are merged into one file for review
   tools and summarised per role.

Flows across regions need the parent's inventory too: verify of a child region checks
its link to the parent when that inventory exists and says so when it does not.

The modules, in the order verify uses them: `inventory` (resolving), `context` (the file
the suites read), `ssh` (the connections), `suites` (which suite checks which role, and
the pytest command), `flows` (what the flow suite expects), `report` (JUnit and the
summary) and `run` (the command itself); `errors` holds VerifyError.
"""

from __future__ import annotations

from .errors import VerifyError
from .run import VerifyRequest, verify
from .suites import SUITES

__all__ = ["SUITES", "VerifyError", "VerifyRequest", "verify"]
