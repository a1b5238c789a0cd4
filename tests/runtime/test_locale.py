"""A served environment answers the same whatever locale its host process chose."""

from __future__ import annotations

import locale
from collections.abc import Iterator

import pytest

from mcpfactory.runtime._main import pin_locale

_CATEGORIES = (locale.LC_COLLATE, locale.LC_MONETARY, locale.LC_NUMERIC, locale.LC_TIME, locale.LC_MESSAGES)


def _a_foreign_locale() -> str | None:
    for name in ("de_DE.utf8", "de_DE.UTF-8", "fr_FR.utf8", "fr_FR.UTF-8"):
        try:
            locale.setlocale(locale.LC_ALL, name)
        except locale.Error:
            continue
        return name
    return None


@pytest.fixture
def host_locale() -> Iterator[str]:
    saved = locale.setlocale(locale.LC_ALL)
    name = _a_foreign_locale()
    try:
        if name is None:
            pytest.skip("no locale besides C and POSIX is installed here")
        yield name
    finally:
        locale.setlocale(locale.LC_ALL, saved)


def test_serving_puts_every_category_but_ctype_back_to_c(host_locale: str) -> None:
    assert locale.setlocale(locale.LC_MESSAGES) == host_locale
    pin_locale()
    assert [locale.setlocale(category) for category in _CATEGORIES] == ["C"] * len(_CATEGORIES)
    assert locale.setlocale(locale.LC_CTYPE) == host_locale
