"""The real catalogue loads and lists every level 3 item; a malformed one is refused with
the file, key path and fix (infra/compliance/catalog.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.compliance.catalog import STATUS_CLASSES, CatalogError, load_catalog

# GB/T 22239-2019 level 3: items per section of the general requirements (§8.1) and of the
# cloud computing extension (§8.2).
ITEMS_PER_SECTION = {
    "8.1.1": 22, "8.1.2": 8, "8.1.3": 20, "8.1.4": 34, "8.1.5": 12,
    "8.1.6": 7, "8.1.7": 14, "8.1.8": 12, "8.1.9": 34, "8.1.10": 48,
    "8.2.1": 1, "8.2.2": 5, "8.2.3": 8, "8.2.4": 19, "8.2.5": 4, "8.2.6": 8, "8.2.7": 1,
}  # fmt: skip


def test_the_catalogue_lists_every_level_3_item_per_section() -> None:
    catalog = load_catalog()
    assert (catalog.standard, catalog.level) == ("GB/T 22239-2019", 3)
    assert dict(Counter(c.section for c in catalog.controls)) == ITEMS_PER_SECTION
    assert sum(1 for c in catalog.controls if c.part == "general") == 211


def test_items_are_in_the_standards_order_with_consecutive_letters() -> None:
    by_clause: dict[str, list[str]] = {}
    for control in load_catalog().controls:
        by_clause.setdefault(control.clause, []).append(control.id[-1])
    gaps = {c: "".join(ls) for c, ls in by_clause.items() if "".join(ls) != "abcdefghij"[: len(ls)]}
    assert gaps == {}


def test_every_item_is_titled_in_both_languages_and_classed() -> None:
    catalog = load_catalog()
    assert all(c.title_zh and c.title_en and c.status in STATUS_CLASSES for c in catalog.controls)
    assert set(catalog.clauses) == {c.clause for c in catalog.controls}
    assert set(catalog.sections) == {c.section for c in catalog.controls}


def _write(tmp_path: Path, controls: list[dict[str, Any]]) -> Path:
    path = tmp_path / "controls.yaml"
    document = {"standard": "GB/T 22239-2019", "level": 3, "sections": {}, "clauses": {}}
    path.write_text(yaml.safe_dump({**document, "controls": controls}, allow_unicode=True))
    return path


ITEM = {"id": "8.1.4.1a", "zh": "身份鉴别", "en": "Authentication", "status": "process"}


@pytest.mark.parametrize(
    ("controls", "path", "message"),
    [
        ([ITEM, ITEM], "controls[1].id", "is listed twice"),
        ([{**ITEM, "id": "8.1.4.1"}], "controls[0].id", "is not an item id"),
        ([{**ITEM, "id": "4.1a"}], "controls[0].id", "is not an item id"),
        ([{**ITEM, "status": "manual"}], "controls[0].status", "is not a status class"),
        ([{k: v for k, v in ITEM.items() if k != "en"}], "controls[0].en", "is missing"),
    ],
)
def test_a_malformed_catalogue_is_refused_naming_the_key(
    tmp_path: Path, controls: list[dict[str, Any]], path: str, message: str
) -> None:
    with pytest.raises(CatalogError) as refused:
        load_catalog(_write(tmp_path, controls))
    found = [(p.path, p.message) for p in refused.value.problems]
    assert (path, message) in found
    assert all(p.file.endswith("controls.yaml") and p.hint for p in refused.value.problems)
