"""Turning a component's or resource's `<X>Args`/`<X>Inputs` dataclass into properties."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def input_props(args: Any) -> dict[str, Any]:
    """The dataclass's fields, shallow.

    Not `dataclasses.asdict`: it deep-copies every value, and a `pulumi.Output` refuses to
    be copied, so any input wired from another resource's output would crash.
    """
    return {f.name: getattr(args, f.name) for f in fields(args)}
