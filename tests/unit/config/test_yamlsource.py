"""YAML loading with positions: every key path knows its line and column, and bad YAML is
one readable problem (never a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.config.yamlsource import Position, YamlSyntaxError, load_yaml, parse_yaml

REGIONS = """\
# a comment line
regions:
  - code: "330000"
    name: 浙江省
    local:
      cidr: 10.203.0.0/24
  - code: "330100"
    local: {cidr: 10.203.1.0/24}
    contacts:
      operations:
        email: ops@example.gov.cn
"""


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        (("regions",), 2, 1),
        (("regions", 0), 3, 5),
        (("regions", 0, "code"), 3, 5),
        (("regions", 0, "local"), 5, 5),
        (("regions", 0, "local", "cidr"), 6, 7),
        (("regions", 1), 7, 5),
        (("regions", 1, "local", "cidr"), 8, 13),
        (("regions", 1, "contacts", "operations", "email"), 11, 9),
    ],
)
def test_position_points_at_the_key(path: tuple[str | int, ...], line: int, column: int) -> None:
    doc = parse_yaml(REGIONS, "regions.yaml")
    assert doc.positions[path] == Position(line, column)


def test_unknown_path_falls_back_to_its_nearest_known_ancestor() -> None:
    doc = parse_yaml(REGIONS, "regions.yaml")
    assert doc.position_of(("regions", 0, "local", "cidrr")) == Position(5, 5)


def test_problem_carries_key_path_and_position() -> None:
    doc = parse_yaml(REGIONS, "stacks/regions/x.yaml")
    problem = doc.problem(("regions", 1, "local", "cidr"), "bad", "fix it", "some-rule", "v")
    assert (problem.file, problem.path, problem.line, problem.column) == (
        "stacks/regions/x.yaml",
        "regions[1].local.cidr",
        8,
        13,
    )
    assert problem.location() == "stacks/regions/x.yaml:8:13"


def test_data_is_plain_python() -> None:
    doc = parse_yaml(REGIONS, "regions.yaml")
    assert doc.data["regions"][1] == {
        "code": "330100",
        "local": {"cidr": "10.203.1.0/24"},
        "contacts": {"operations": {"email": "ops@example.gov.cn"}},
    }


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a'"),
        ("top:\n  x: 1\n  y: 2\n  x: 3\n", 4, 3, "duplicate key 'x'"),
        ("items:\n  - {k: 1, k: 2}\n", 2, 12, "duplicate key 'k'"),
    ],
)
def test_duplicate_key_is_refused(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(YamlSyntaxError) as raised:
        parse_yaml(text, "f.yaml")
    problem = raised.value.problem
    assert (problem.rule, problem.line, problem.column) == ("yaml-duplicate-key", line, column)
    assert message in problem.message


def test_merge_key_is_refused() -> None:
    text = "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n"
    with pytest.raises(YamlSyntaxError) as raised:
        parse_yaml(text, "f.yaml")
    problem = raised.value.problem
    assert (problem.rule, problem.line, problem.column) == ("yaml-merge-key", 3, 3)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a:\n  b: 1\n c: 2\n", 3, 2),
        ('a: "unclosed\nb: 2\n', 3, 1),
        ("a: [1, 2\nb: 3\n", 2, 2),
        ("a: 1\n---\nb: 2\n", 2, 1),
        ("a: !!python/object:os.system x\n", 1, 4),
    ],
)
def test_syntax_error_is_one_problem_with_a_position(text: str, line: int, column: int) -> None:
    with pytest.raises(YamlSyntaxError) as raised:
        parse_yaml(text, "f.yaml")
    problem = raised.value.problem
    assert (problem.rule, problem.path) == ("yaml-syntax", "<document>")
    assert (problem.line, problem.column) == (line, column)
    assert "Traceback" not in str(raised.value)


@pytest.mark.parametrize("text", ["? [a, b]\n: 1\n", "{[1]: 2}\n", "? {a: 1}\n: 2\n"])
def test_unhashable_key_is_a_problem_not_a_crash(text: str) -> None:
    with pytest.raises(YamlSyntaxError):
        parse_yaml(text, "f.yaml")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_document_has_no_data(text: str) -> None:
    assert parse_yaml(text, "f.yaml").data is None


def test_file_not_in_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes("name: 淳安县\n".encode("gbk"))
    with pytest.raises(YamlSyntaxError) as raised:
        load_yaml(path, "stacks/regions/gbk.yaml")
    problem = raised.value.problem
    assert (problem.rule, problem.file) == ("yaml-encoding", "stacks/regions/gbk.yaml")
    assert "not UTF-8" in problem.message


def test_load_yaml_names_the_file_as_displayed(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(REGIONS, encoding="utf-8")
    assert load_yaml(path, "stacks/regions/r.yaml").file == "stacks/regions/r.yaml"
