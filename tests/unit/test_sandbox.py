"""The throwaway project copy that tests and benchmarks run Pulumi in."""

from __future__ import annotations

import configparser
from pathlib import Path

from infra.sandbox import PROJECT_PARTS, ROOT, make_sandbox


def test_sandbox_copies_the_project_and_isolates_pulumi_state(tmp_path: Path) -> None:
    workdir, env = make_sandbox(tmp_path, "secret", REGIONSTACK_LOCAL_STATE="/x")
    for part in PROJECT_PARTS:
        assert (workdir / part).exists(), part
    assert (workdir / ".venv").resolve() == (ROOT / ".venv").resolve()
    assert env["PULUMI_BACKEND_URL"] == f"file://{tmp_path / 'backend'}"
    assert (tmp_path / "backend").is_dir()
    assert env["PULUMI_HOME"].startswith(str(tmp_path))
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "secret"
    assert env["REGIONSTACK_LOCAL_STATE"] == "/x"
    assert env["REGIONSTACK_STATE_DIR"] == str(tmp_path / "state")
    assert not list(workdir.rglob("__pycache__"))


def test_stack_init_in_the_sandbox_never_touches_the_checkout(tmp_path: Path) -> None:
    workdir, _ = make_sandbox(tmp_path, "secret")
    (workdir / "stacks" / "Pulumi.chunan.yaml").write_text("changed\n")
    assert (ROOT / "stacks" / "Pulumi.chunan.yaml").read_text() != "changed\n"


def test_the_operators_encryption_salt_is_not_copied(tmp_path: Path) -> None:
    workdir, _ = make_sandbox(tmp_path, "secret")
    for stack_file in (workdir / "stacks").glob("Pulumi.*.yaml"):
        assert "encryptionsalt:" not in stack_file.read_text(), stack_file
    assert (workdir / "stacks" / "Pulumi.chunan.yaml").read_text().count("regionstack:code") == 1


def test_the_sandbox_has_every_directory_ansible_cfg_names(tmp_path: Path) -> None:
    # A strategy or role path missing from the copy fails the e2e playbook runs only.
    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    named = [config["defaults"][key] for key in ("roles_path", "strategy_plugins")]
    workdir, _ = make_sandbox(tmp_path, "secret")
    for path in named:
        assert (workdir / path).is_dir(), path
