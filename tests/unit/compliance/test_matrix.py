"""docs/compliance.md's control matrix is the catalogue's, row for row."""

from __future__ import annotations

import pytest

from infra.compliance.catalog import load_catalog
from infra.compliance.matrix import BEGIN, DOCUMENT, END, render_matrix, with_matrix


def test_the_document_holds_the_matrix_of_the_catalogue() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    assert with_matrix(text, render_matrix(load_catalog())) == text, (
        "docs/compliance.md's control matrix is stale: run `python -m infra.compliance.matrix`"
    )


def test_every_technical_item_has_a_row_and_every_section_a_count() -> None:
    catalog = load_catalog()
    matrix = render_matrix(catalog)
    for control in catalog.technical():
        assert f"\n| {control.id} | " in matrix
    for section in catalog.sections:
        assert f"\n| {section} " in matrix
    assert f"| **all** | **{len(catalog.controls)}** |" in matrix


def test_replacing_keeps_the_text_around_the_markers() -> None:
    document = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    assert with_matrix(document, "new") == f"before\n{BEGIN}\nnew\n{END}\nafter\n"


def test_a_document_without_markers_is_refused() -> None:
    with pytest.raises(ValueError):
        with_matrix("no markers here", "new")
