"""Service credentials: generated once, kept across updates, new names filled in."""

from __future__ import annotations

import math

from modules.secrets import (
    SECRET_ALPHABET,
    SECRET_LENGTH,
    SERVICE_SECRET_NAMES,
    ServiceSecretsProvider,
)


def test_every_name_gets_a_distinct_random_value() -> None:
    created = ServiceSecretsProvider().create(
        {"stack": "chunan", "names": list(SERVICE_SECRET_NAMES)}
    )
    values = created.outs["values"]
    assert set(values) == set(SERVICE_SECRET_NAMES)
    assert len(set(values.values())) == len(values)
    assert all(len(v) == SECRET_LENGTH for v in values.values())
    assert SECRET_LENGTH * math.log2(len(SECRET_ALPHABET)) >= 256
    again = ServiceSecretsProvider().create(
        {"stack": "chunan", "names": list(SERVICE_SECRET_NAMES)}
    )
    assert not set(values.values()) & set(again.outs["values"].values())


def test_an_update_keeps_existing_values_and_fills_new_names() -> None:
    provider = ServiceSecretsProvider()
    olds = provider.create({"stack": "chunan", "names": ["a", "b"]}).outs
    news = {"stack": "chunan", "names": ["a", "b", "c"]}
    assert provider.diff("id", olds, news).changes
    values = provider.update("id", olds, news).outs["values"]
    assert values["a"] == olds["values"]["a"] and values["b"] == olds["values"]["b"]
    assert values["c"] and values["c"] not in olds["values"].values()


def test_another_stack_is_a_replacement() -> None:
    provider = ServiceSecretsProvider()
    olds = provider.create({"stack": "chunan", "names": ["a"]}).outs
    assert provider.diff("id", olds, {"stack": "hangzhou", "names": ["a"]}).replaces == ["stack"]


def test_no_value_can_be_taken_for_a_command_line_option() -> None:
    # `rabbitmqctl add_user hotline -…` failed a region's first up: letters and digits only.
    provider = ServiceSecretsProvider()
    values = [
        value
        for _ in range(200)
        for value in provider.create({"stack": "chunan", "names": ["a", "b"]})
        .outs["values"]
        .values()
    ]
    assert all(value.isascii() and value.isalnum() for value in values)


def test_a_stored_value_beginning_with_a_dash_is_replaced_alone() -> None:
    provider = ServiceSecretsProvider()
    olds = {"stack": "chunan", "names": ["a", "b"], "values": {"a": "-Xy" * 10, "b": "kept"}}
    news = {"stack": "chunan", "names": ["a", "b"]}
    diff = provider.diff("id", olds, news)
    assert diff.changes and not diff.replaces
    values = provider.update("id", olds, news).outs["values"]
    assert values["b"] == "kept"
    assert values["a"] != olds["values"]["a"] and values["a"].isalnum()


def test_usable_stored_values_ask_for_no_change() -> None:
    provider = ServiceSecretsProvider()
    olds = provider.create({"stack": "chunan", "names": ["a", "b"]}).outs
    assert not provider.diff("id", olds, {"stack": "chunan", "names": ["a", "b"]}).changes
