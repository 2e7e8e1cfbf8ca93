from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.config.loader import load_fleet
from infra.config.render import render
from infra.fleet.changes import changed_since, digest_of, shared_changes
from infra.fleet.dag import PlanError
from infra.fleet.selection import plan_fleet

STACKS = ["chunan", "hangzhou", "ningxia", "tonglu", "zhejiang"]


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def repo(config_dir: Path) -> Path:
    """The sample configuration, rendered and committed as `base` in a fresh repository."""
    root = config_dir.parent
    (root / "roles" / "portal").mkdir(parents=True)
    (root / "roles" / "portal" / "main.yml").write_text("---\n", encoding="utf-8")
    render(load_fleet(config_dir))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "base")
    git(root, "tag", "base")
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, path
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_nothing_changed_selects_nothing(repo: Path) -> None:
    changes = changed_since(repo / "stacks", "base", STACKS)
    assert changes.stacks == frozenset() and changes.shared == ()


def test_a_region_file_change_selects_the_regions_whose_digest_moved(repo: Path) -> None:
    edit(repo / "stacks/regions/33-zhejiang.yaml", "ops@tonglu", "oncall@tonglu")
    render(load_fleet(repo / "stacks"))
    assert changed_since(repo / "stacks", "base", STACKS).stacks == {"tonglu"}


def test_a_changed_digest_without_render_is_not_seen(repo: Path) -> None:
    # The digests are what `render` wrote: unrendered edits are caught by `render --check`.
    edit(repo / "stacks/regions/33-zhejiang.yaml", "ops@tonglu", "oncall@tonglu")
    assert changed_since(repo / "stacks", "base", STACKS).stacks == frozenset()


def test_a_region_new_since_rev_is_selected(repo: Path) -> None:
    (repo / "stacks/Pulumi.tonglu.yaml").unlink()
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "drop")
    render(load_fleet(repo / "stacks"))
    assert changed_since(repo / "stacks", "HEAD", STACKS).stacks == {"tonglu"}


def test_a_shared_input_change_selects_every_region(repo: Path) -> None:
    (repo / "roles/portal/extra.yml").write_text("---\n", encoding="utf-8")
    changes = changed_since(repo / "stacks", "base", STACKS)
    assert changes.stacks == frozenset(STACKS)
    assert changes.shared == ("roles/portal/extra.yml",)


def test_which_paths_are_shared() -> None:
    paths = ["infra/pki.py", "infra/fleet/plan.py", "docs/fleet.md", "Pulumi.yaml", "tests/x.py"]
    assert shared_changes(paths) == ("Pulumi.yaml", "infra/pki.py")
    bytecode = ["infra/__pycache__/pki.cpython-311.pyc", "modules/local/__pycache__/x.pyc"]
    assert shared_changes([*bytecode, "modules/local/x.py"]) == ("modules/local/x.py",)


def test_plan_says_why_every_region_is_in_it(repo: Path) -> None:
    (repo / "roles/portal/main.yml").write_text("--- # changed\n", encoding="utf-8")
    plan = plan_fleet(load_fleet(repo / "stacks"), [], since="base")
    assert len(plan.regions) == 5
    assert plan.to_text().splitlines()[1] == (
        "changed since base: shared inputs changed (roles/portal/main.yml): every region"
    )


def test_unknown_revision_is_refused_naming_it(repo: Path) -> None:
    with pytest.raises(PlanError) as refused:
        changed_since(repo / "stacks", "no-such-rev", STACKS)
    [problem] = refused.value.problems
    assert problem.path == "--changed-since"
    assert "'no-such-rev' is not a commit" in problem.message


def test_outside_a_repository_is_refused(config_dir: Path) -> None:
    with pytest.raises(PlanError) as refused:
        changed_since(config_dir, "HEAD", STACKS)
    [problem] = refused.value.problems
    assert problem.file == str(config_dir.resolve())
    assert "is not in a git repository" in problem.message
    assert "not a git repository" in problem.message


def test_digest_is_read_from_a_stack_file() -> None:
    text = 'config:\n  regionstack:code: "1"\n  regionstack:digest: "sha256:ab"\n'
    assert digest_of(text) == "sha256:ab"
    assert digest_of("config: {}\n") is None
    assert digest_of(None) is None


def test_a_stack_file_changed_only_in_pulumis_own_keys_is_not_a_change(repo: Path) -> None:
    stack_file = repo / "stacks/Pulumi.tonglu.yaml"
    stack_file.write_text(
        stack_file.read_text(encoding="utf-8") + "encryptionsalt: v1:abc\n", encoding="utf-8"
    )
    assert changed_since(repo / "stacks", "base", STACKS).stacks == frozenset()


def test_without_git_the_change_cannot_be_judged(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(repo / "nowhere"))
    with pytest.raises(PlanError) as refused:
        changed_since(repo / "stacks", "base", STACKS)
    [problem] = refused.value.problems
    assert (problem.file, problem.message) == ("git", "git is not installed")
