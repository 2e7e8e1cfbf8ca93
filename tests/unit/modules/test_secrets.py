"""Service credentials: generated once, kept across updates, new names filled in."""

from __future__ import annotations

from modules.secrets import SECRET_BYTES, SERVICE_SECRET_NAMES, ServiceSecretsProvider


def test_every_name_gets_a_distinct_random_value() -> None:
    created = ServiceSecretsProvider().create(
        {"stack": "chunan", "names": list(SERVICE_SECRET_NAMES)}
    )
    values = created.outs["values"]
    assert set(values) == set(SERVICE_SECRET_NAMES)
    assert len(set(values.values())) == len(values)
    # token_urlsafe: 4 characters per 3 bytes, so at least the entropy asked for.
    assert all(len(v) >= SECRET_BYTES * 4 // 3 for v in values.values())
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
