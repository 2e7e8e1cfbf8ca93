"""GB/T 2260 codes: tier and expected parent, including the standard's real exceptions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.config.gbt2260 import PROVINCE_PREFIXES, Tier, analyse


@pytest.mark.parametrize(
    ("code", "tier", "parent"),
    [
        ("330000", Tier.province, None),
        ("640000", Tier.province, None),
        ("810000", Tier.province, None),  # 香港: province level only
        ("710000", Tier.province, None),
        ("330100", Tier.city, "330000"),
        ("330127", Tier.county, "330100"),
        ("110105", Tier.county, "110000"),  # 朝阳区 under 市辖区 1101 -> the municipality
        ("120225", Tier.county, "120000"),  # 蓟县 under 县 1202 -> the municipality
        ("310115", Tier.county, "310000"),
        ("500229", Tier.county, "500000"),
        ("429004", Tier.county, "420000"),  # 仙桃市, province-administered
        ("469001", Tier.county, "460000"),  # 五指山市
        ("659001", Tier.county, "650000"),  # 石河子市
        ("419001", Tier.county, "410000"),  # 济源市
    ],
)
def test_code_gives_tier_and_parent(code: str, tier: Tier, parent: str | None) -> None:
    facts = analyse(code)
    assert (facts.tier, facts.expected_parent, facts.error) == (tier, parent, None)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("33012", "six digits"),
        ("3301270", "six digits"),
        ("33a127", "six digits"),
        ("030127", "not starting with 0"),
        ("", "six digits"),
        (" 33012", "six digits"),
        ("990000", "province prefix 99"),
        ("100000", "province prefix 10"),
        ("330027", "PP00XX"),
        ("110100", "市辖区/县 grouping"),
        ("120200", "市辖区/县 grouping"),
        ("500100", "市辖区/县 grouping"),
        ("429000", "省直辖县级行政区划"),
        ("469000", "省直辖县级行政区划"),
        ("810100", "does not subdivide"),
        ("820101", "does not subdivide"),
        ("710100", "does not subdivide"),
    ],
)
def test_code_that_is_not_a_region(code: str, error: str) -> None:
    facts = analyse(code)
    assert facts.tier is None and facts.expected_parent is None
    assert facts.error is not None and error in facts.error
    assert facts.hint


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("110100", "directly under 110000"),
        ("429000", "directly under 420000"),
        ("810100", "810000"),
    ],
)
def test_hint_names_the_region_to_use(code: str, hint: str) -> None:
    assert hint in (analyse(code).hint or "")


def test_tiers_rank_top_down() -> None:
    assert [t.rank for t in (Tier.province, Tier.city, Tier.county)] == [0, 1, 2]


six_digits = st.text(alphabet="0123456789", min_size=6, max_size=6)
valid_prefix_codes = st.tuples(
    st.sampled_from(sorted(PROVINCE_PREFIXES)), st.from_regex(r"\A\d{4}\Z")
).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.one_of(six_digits, valid_prefix_codes))
def test_every_code_is_either_a_region_or_explained(code: str) -> None:
    facts = analyse(code)
    assert (facts.tier is None) == (facts.error is not None)
    if facts.tier is None:
        assert facts.hint
    elif facts.tier is Tier.province:
        assert facts.expected_parent is None and code.endswith("0000")
    else:
        assert facts.expected_parent is not None
        parent = analyse(facts.expected_parent)
        assert parent.tier is not None and parent.tier.rank < facts.tier.rank
        assert facts.expected_parent[:2] == code[:2]
