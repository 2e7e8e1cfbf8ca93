"""Load YAML and remember where every key came from.

Validation errors must point at a line and column, and a syntax error must read like one
("line 4, column 7: ..."), never a traceback. PyYAML's `compose` gives nodes with marks;
we build plain data from them and keep a side table of key path -> position. We also
refuse duplicate keys, which PyYAML would otherwise accept silently (the last one wins,
so a pasted block could override a value without anyone noticing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.config.problems import KeyPath, Problem, format_key_path

try:  # libyaml makes a national fleet load in a fraction of the pure-Python time
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass
class YamlDocument:
    """A parsed file: its data, and where each key path sits in it."""

    file: str
    data: Any
    positions: dict[KeyPath, Position]

    def position_of(self, path: KeyPath) -> Position | None:
        """The position of `path`, or of its nearest ancestor that we know."""
        while True:
            found = self.positions.get(path)
            if found is not None or not path:
                return found
            path = path[:-1]

    def problem(
        self, path: KeyPath, message: str, hint: str, rule: str, value: Any = None
    ) -> Problem:
        position = self.position_of(path)
        return Problem(
            file=self.file,
            path=format_key_path(path),
            message=message,
            hint=hint,
            rule=rule,
            value=value,
            line=position.line if position else None,
            column=position.column if position else None,
        )


INT_TAG = "tag:yaml.org,2002:int"


def _ambiguous_int(text: str) -> bool:
    digits = text.lstrip("+-")
    return (len(digits) > 1 and digits.startswith("0") and not digits.startswith("0x")) or any(
        c in digits for c in ":_"
    )


class YamlSyntaxError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.to_text())
        self.problem = problem


def _position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.positions: dict[KeyPath, Position] = {}

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.positions.setdefault(path, _position(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag == INT_TAG and _ambiguous_int(node.value):
            # YAML 1.1 reads 030127 as octal (12375) and 33:01:27 as base 60; keep the
            # text the author wrote so the schema reports it instead of a number nobody wrote.
            return node.value
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._error(
                    key_node,
                    "YAML merge keys (<<) are not supported",
                    "write the keys out; the unified config's levels already share values",
                    "yaml-merge-key",
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._error(
                    key_node,
                    "a mapping key must be a plain value, not a list or mapping",
                    "write the key as a name",
                    "yaml-complex-key",
                )
            key = self.loader.construct_object(key_node, deep=True)
            if key in result:
                raise self._error(
                    key_node,
                    f"duplicate key {key!r}",
                    "remove one of the two; YAML would silently keep only the last",
                    "yaml-duplicate-key",
                )
            key_path = (*path, key)
            # Point errors about a key at the key itself, not at its value.
            self.positions[key_path] = _position(key_node)
            result[key] = self.build(value_node, key_path)
        return result

    def _error(self, node: yaml.Node, message: str, hint: str, rule: str) -> YamlSyntaxError:
        pos = _position(node)
        return YamlSyntaxError(
            Problem(self.file, "<document>", message, hint, rule, None, pos.line, pos.column)
        )


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document; raise YamlSyntaxError with line and column on bad input."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(file, None, {})
        builder = _Builder(loader, file)
        return YamlDocument(file, builder.build(node, ()), builder.positions)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise YamlSyntaxError(
            Problem(
                file,
                "<document>",
                f"YAML syntax error: {err.problem or err.context or 'invalid YAML'}",
                "fix the YAML at that line (indentation, a missing ':' or an unclosed quote)",
                "yaml-syntax",
                None,
                mark.line + 1 if mark else None,
                mark.column + 1 if mark else None,
            )
        ) from None
    except yaml.YAMLError as err:
        raise YamlSyntaxError(
            Problem(file, "<document>", f"YAML error: {err}", "fix the YAML", "yaml-syntax")
        ) from None
    finally:
        loader.dispose()


def load_yaml(path: Path, display_name: str) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise YamlSyntaxError(
            Problem(
                display_name,
                "<document>",
                f"not UTF-8: {err.reason} at byte {err.start}",
                "save the file as UTF-8 (names are Chinese and must stay readable)",
                "yaml-encoding",
            )
        ) from None
    return parse_yaml(text, display_name)
