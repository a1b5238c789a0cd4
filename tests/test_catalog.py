"""The catalog as a whole: its page is current and every environment loads."""

from __future__ import annotations

from mcpfactory.list_cli import catalog_entries, markdown
from tests.conftest import REPO


def test_catalog_page_is_current() -> None:
    # Regenerate with: mcpfactory list --markdown > docs/catalog.md
    page = REPO / "docs" / "catalog.md"
    assert page.read_text(encoding="utf-8") == markdown(catalog_entries())


def test_every_catalog_spec_loads() -> None:
    assert [e["env"] for e in catalog_entries() if e["status"] == "broken"] == []
