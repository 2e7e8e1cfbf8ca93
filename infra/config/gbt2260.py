"""GB/T 2260 administrative division codes: what a code says about its tier and parent.

A code is six digits ``PPCCXX``: ``PP`` the province, ``CC`` the prefecture-level city,
``XX`` the county-level division. The plain rule (province ``PP0000``, city ``PPCC00``,
county ``PPCCXX`` whose parent is ``PPCC00``) has real exceptions that the standard
itself contains, and a region file must be allowed to follow them:

* the four municipalities (北京 11, 天津 12, 上海 31, 重庆 50) group their districts
  under ``PP01xx`` (市辖区) and ``PP02xx`` (县); those groupings are not cities, so a
  district such as 110105 朝阳区 belongs directly to the municipality 110000;
* province-administered county-level divisions (省直辖县级行政区划) sit under
  ``PP90xx`` (429004 仙桃市, 469001 五指山市, 659001 石河子市); ``PP9000`` is not a
  city, so their parent is the province;
* Taiwan (71), Hong Kong (81) and Macao (82) have province-level codes only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

CODE_PATTERN = re.compile(r"^[1-9]\d{5}$")

PROVINCE_PREFIXES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)
MUNICIPALITY_PREFIXES = frozenset({"11", "12", "31", "50"})
# Province-level codes with no subdivisions listed in GB/T 2260.
UNSUBDIVIDED_PREFIXES = frozenset({"71", "81", "82"})
MUNICIPALITY_GROUPINGS = frozenset({"01", "02"})  # 市辖区, 县
PROVINCE_ADMINISTERED = "90"  # 省直辖县级行政区划


class Tier(StrEnum):
    province = "province"
    city = "city"
    county = "county"

    @property
    def rank(self) -> int:
        return {Tier.province: 0, Tier.city: 1, Tier.county: 2}[self]


@dataclass(frozen=True)
class CodeFacts:
    """What a well-formed code implies, or why it is not a region code."""

    tier: Tier | None
    expected_parent: str | None
    error: str | None = None
    hint: str | None = None


def analyse(code: str) -> CodeFacts:
    """Derive tier and expected parent from a code; explain codes that cannot be regions."""
    if not CODE_PATTERN.match(code):
        return CodeFacts(
            None,
            None,
            "is not a GB/T 2260 code (six digits, not starting with 0)",
            "use the six-digit code, e.g. 330000 for a province, 330100 for a city, "
            "330127 for a county; quote it in YAML",
        )
    province, city, county = code[:2], code[2:4], code[4:]
    if province not in PROVINCE_PREFIXES:
        return CodeFacts(
            None,
            None,
            f"has province prefix {province}, which GB/T 2260 does not assign",
            "the first two digits must be a province: " + " ".join(sorted(PROVINCE_PREFIXES)),
        )
    if city == "00" and county == "00":
        return CodeFacts(Tier.province, None)
    if city == "00":
        return CodeFacts(
            None,
            None,
            "has a county part but no city part (PP00XX is never assigned)",
            "check the digits: a county code is PPCCXX with CC not 00",
        )
    if province in UNSUBDIVIDED_PREFIXES:
        return CodeFacts(
            None,
            None,
            f"is below {province}0000, which GB/T 2260 does not subdivide",
            f"register {province}0000 itself as a province-tier region",
        )
    if county == "00":
        if province in MUNICIPALITY_PREFIXES and city in MUNICIPALITY_GROUPINGS:
            return CodeFacts(
                None,
                None,
                "is a municipality's 市辖区/县 grouping, not a city",
                f"register the municipality's districts directly under {province}0000",
            )
        if city == PROVINCE_ADMINISTERED:
            return CodeFacts(
                None,
                None,
                "is the 省直辖县级行政区划 grouping, not a city",
                f"register those county-level divisions directly under {province}0000",
            )
        return CodeFacts(Tier.city, f"{province}0000")
    if province in MUNICIPALITY_PREFIXES or city == PROVINCE_ADMINISTERED:
        return CodeFacts(Tier.county, f"{province}0000")
    return CodeFacts(Tier.county, f"{province}{city}00")
