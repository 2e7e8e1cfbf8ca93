"""The site playbook's strategy: Ansible's `linear`, over Mitogen connections.

Mitogen keeps one Python interpreter per host open for the whole run and sends each task
to it, instead of uploading and starting a module per task over SSH; that per-task cost
was most of a converge (see docs/performance.md). Mitogen ships this same shim inside its
package; naming it from the repository (ansible.cfg `strategy_plugins`) keeps ansible.cfg
free of the virtualenv's path. `ANSIBLE_STRATEGY=linear` runs the playbook without it.
"""

from __future__ import annotations

import ansible_mitogen.loaders
import ansible_mitogen.strategy

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
    """Ansible's linear strategy with Mitogen's connection handling mixed in."""
