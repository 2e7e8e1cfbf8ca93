"""The site playbook's strategy: Ansible's linear order of tasks over Mitogen connections."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ansible_mitogen.strategy
from ansible.plugins.loader import strategy_loader
from ansible.plugins.strategy.linear import StrategyModule as Linear

from infra.playbook import ansible_environment

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def _ansible(*args: str) -> subprocess.CompletedProcess[str]:
    env = ansible_environment(ROOT)
    env.pop("ANSIBLE_STRATEGY", None)  # what ansible.cfg says, not the caller's shell
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_ansible_cfg_selects_mitogen_linear_from_the_repository() -> None:
    dump = _ansible(str(BIN / "ansible-config"), "dump", "--only-changed").stdout
    settings = dict(line.split(" = ", 1) for line in dump.splitlines() if " = " in line)
    strategy = next(v for k, v in settings.items() if k.startswith("DEFAULT_STRATEGY("))
    plugin_path = next(v for k, v in settings.items() if k.startswith("DEFAULT_STRATEGY_PLUGIN"))
    assert strategy == "mitogen_linear"
    assert str(ROOT / "plugins" / "strategy") in plugin_path


def test_the_strategy_is_linear_with_mitogens_connection_handling() -> None:
    strategy_loader.add_directory(str(ROOT / "plugins" / "strategy"))
    strategy = strategy_loader.get("mitogen_linear", class_only=True)
    assert strategy is not None
    assert issubclass(strategy, ansible_mitogen.strategy.StrategyMixin)
    assert issubclass(strategy, Linear)


def test_tasks_run_in_a_mitogen_interpreter_not_an_uploaded_module() -> None:
    # The command's parent is the interpreter that ran the module: Mitogen's long-lived
    # child names itself `python3(mitogen:...)`; linear's would be an AnsiballZ script.
    result = _ansible(
        str(BIN / "ansible"),
        "localhost",
        "--connection=local",
        "--inventory=localhost,",
        "--module-name=ansible.builtin.shell",
        "--args=tr '\\0' ' ' < /proc/$PPID/cmdline",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(mitogen:" in result.stdout
    assert "AnsiballZ" not in result.stdout
