"""The firewall's mechanism (infra/local/firewall.py): what it applies and calls ours.

Its provider's diff (modules/local/firewall.py): tests/unit/modules/local/test_firewall.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.config.loader import load_fleet
from infra.local import firewall
from infra.local.firewall import FirewallError
from infra.local.firewall_rules import render_ruleset
from infra.local.plan import plan_region

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def ruleset() -> str:
    fleet = load_fleet(ROOT / "stacks")
    return render_ruleset(plan_region(fleet, fleet.region("chunan")), fleet.standard)


LISTING = """table inet regionstack_330127 {
\tcomment "regionstack:chunan"
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tcounter drop comment "default deny"
\t}
}
"""


def test_rendered_ruleset_touches_only_its_two_tables(ruleset: str) -> None:
    assert firewall.tables_in(ruleset) == {
        ("bridge", "regionstack_330127"),
        ("inet", "regionstack_330127"),
    }
    firewall.check_ruleset("chunan", "regionstack_330127", ruleset)


def test_a_ruleset_touching_another_table_is_refused(ruleset: str) -> None:
    with pytest.raises(FirewallError, match="exactly"):
        firewall.check_ruleset("chunan", "regionstack_330127", ruleset + "add table ip nat\n")
    with pytest.raises(FirewallError, match="exactly"):
        firewall.check_ruleset("chunan", "regionstack_330100", ruleset)


@pytest.mark.parametrize(
    "statement", ["flush ruleset", "flush table ip nat", "delete chain ip x y"]
)
def test_other_top_level_statements_are_refused(ruleset: str, statement: str) -> None:
    with pytest.raises(FirewallError, match="may only"):
        firewall.check_ruleset("chunan", "regionstack_330127", f"{ruleset}{statement}\n")


def test_a_ruleset_without_the_marker_is_refused(ruleset: str) -> None:
    with pytest.raises(FirewallError, match="must carry"):
        firewall.check_ruleset("hangzhou", "regionstack_330127", ruleset)


def test_table_marker_reads_only_the_table_comment() -> None:
    assert firewall.table_marker(LISTING) == "regionstack:chunan"
    unmarked = LISTING.replace('\tcomment "regionstack:chunan"\n', "")
    assert firewall.table_marker(unmarked) is None  # a rule's comment is not the table's


def test_foreign_tables_are_named() -> None:
    foreign = LISTING.replace("regionstack:chunan", "someone-else")
    current = {"bridge": None, "inet": foreign}
    assert firewall.foreign("chunan", "regionstack_330127", current) == [
        "inet regionstack_330127 (comment 'someone-else')"
    ]
    assert firewall.foreign("chunan", "regionstack_330127", {"bridge": None, "inet": LISTING}) == []


def test_apply_refuses_to_replace_a_foreign_table(
    monkeypatch: pytest.MonkeyPatch, ruleset: str
) -> None:
    calls: list[tuple[str, ...]] = []
    foreign = LISTING.replace("regionstack:chunan", "someone-else")
    monkeypatch.setattr(firewall, "listing", lambda family, table: foreign)
    monkeypatch.setattr(firewall, "_nft", lambda *a, **k: calls.append(a))
    with pytest.raises(FirewallError, match="not ours"):
        firewall.apply("chunan", "regionstack_330127", ruleset)
    assert calls == [], "nothing may be applied over a foreign table"


def test_remove_deletes_only_marked_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    scripts: list[str | None] = []
    foreign = LISTING.replace("regionstack:chunan", "someone-else")
    listings: dict[str, str | None] = {"bridge": foreign, "inet": LISTING}
    monkeypatch.setattr(firewall, "listing", lambda family, table: listings[family])

    def nft(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        scripts.append(stdin)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(firewall, "_nft", nft)
    firewall.remove("chunan", "regionstack_330127")
    assert scripts == ["delete table inet regionstack_330127\n"]
    listings["inet"] = None
    firewall.remove("chunan", "regionstack_330127")
    assert len(scripts) == 1, "nothing of ours left: no nft call"


def test_digest_depends_on_both_listings() -> None:
    one = firewall.digest({"bridge": "a", "inet": "b"})
    assert one == firewall.digest({"bridge": "a", "inet": "b"})
    assert one != firewall.digest({"bridge": None, "inet": "b"})


def test_intact_only_when_both_tables_are_ours_and_list_as_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listings: dict[str, str | None] = {"bridge": LISTING, "inet": LISTING}
    monkeypatch.setattr(firewall, "listing", lambda family, table: listings[family])
    applied = firewall.digest(listings)
    assert firewall.intact("chunan", "regionstack_330127", applied)
    assert not firewall.intact("hangzhou", "regionstack_330127", applied)
    assert not firewall.intact("chunan", "regionstack_330127", "edited")
    listings["inet"] = None
    assert not firewall.intact("chunan", "regionstack_330127", firewall.digest(listings))
