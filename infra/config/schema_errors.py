"""Turn pydantic's validation errors into `Problem`s that say how to fix them.

The message comes from the schema (pydantic renders the constraint that failed); the hint
comes from the field's description, or, for an unknown key, from the keys that are allowed
at that place ("did you mean ...?").
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from infra.config.problems import KeyPath, Problem
from infra.config.yamlsource import YamlDocument


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional so we can see the container or model beneath."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
            if len(args) != 1:
                return tp
        else:
            return tp


def _descend(tp: Any, part: str | int) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    origin = typing.get_origin(tp)
    if origin is list and isinstance(part, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> Any:
    tp: Any = model
    for part in loc:
        tp = _descend(tp, part)
        if tp is None:
            return None
    return _unwrap(tp)


def _field_description(model: type[BaseModel], loc: tuple[str | int, ...]) -> str | None:
    if not loc:
        return None
    parent = _model_at(model, loc[:-1])
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        for name, field in parent.model_fields.items():
            if loc[-1] in (name, field.alias):
                return field.description
    return None


def _allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    parent = _model_at(model, loc)
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        return sorted(field.alias or name for name, field in parent.model_fields.items())
    if typing.get_origin(parent) is dict:
        key_type = _unwrap(typing.get_args(parent)[0])
        if typing.get_origin(key_type) is typing.Literal:
            return [str(k) for k in typing.get_args(key_type)]
    return []


def _is_key_marker(part: str | int) -> bool:
    return isinstance(part, str) and part.endswith("]") and "[" in part


def _problem(
    doc: YamlDocument, base: KeyPath, model: type[BaseModel], error: ErrorDetails
) -> Problem:
    raw_loc = tuple(error["loc"])
    # pydantic appends a "[key]" marker after a dict key that failed its Literal check.
    key_failed = any(_is_key_marker(p) for p in raw_loc)
    loc = tuple(p for p in raw_loc if not _is_key_marker(p))
    path = (*base, *loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        hint += "allowed keys here: " + ", ".join(allowed) if allowed else "remove it"
        return doc.problem(path, f"unknown key {loc[-1]!r}", hint, "unknown-key")
    if kind == "missing":
        description = _field_description(model, loc)
        hint = f"add `{loc[-1]}:`" + (f" - {description}" if description else "")
        return doc.problem(path, f"missing required key {loc[-1]!r}", hint, "missing-key")
    if kind == "literal_error" and key_failed and loc and isinstance(loc[-1], str):
        # A dict key outside its Literal set (e.g. a misspelt component name).
        allowed = _allowed_keys(model, loc[:-1])
        near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        message = error["msg"]
    else:
        near, message = [], error["msg"]
    message = message.removeprefix("Value error, ")
    description = _field_description(model, loc)
    hint = description or "see docs/configuration.md for this key"
    if near:
        hint = f"did you mean {near[0]!r}? " + hint
    value = error.get("input")
    shown = value if isinstance(value, str | int | float | bool) else None
    return doc.problem(path, message, hint, f"schema-{kind.replace('_', '-')}", shown)


def schema_problems(
    doc: YamlDocument, base: KeyPath, model: type[BaseModel], error: ValidationError
) -> list[Problem]:
    return [_problem(doc, base, model, e) for e in error.errors()]
