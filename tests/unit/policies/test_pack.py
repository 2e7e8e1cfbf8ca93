from __future__ import annotations

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy
from pulumi_policy.secret import Secret

from policies.model import UNKNOWN
from policies.pack import plain, stack_of


def test_engine_properties_become_plain_values_with_unknowns_marked() -> None:
    proxied = unknown_checking_proxy({"a": [{"b": UNKNOWN_STRING_VALUE}], "c": Secret("s"), "d": 1})
    assert plain(proxied) == {"a": [{"b": UNKNOWN}], "c": "s", "d": 1}


def test_the_stack_is_read_from_the_urn() -> None:
    assert stack_of("urn:pulumi:chunan::regionstack::pulumi:pulumi:Stack::x") == "chunan"
    assert stack_of("not-a-urn") == ""
