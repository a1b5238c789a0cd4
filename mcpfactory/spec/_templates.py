"""Placeholders of `str.format` templates: error messages, and literal templates in bodies.

A field must be a plain name (no attribute or index walk such as `{0.__class__}`),
already in the form Python folds identifiers to, and its format spec within the
static bounds (`_bounds.format_spec_problem`: widths, the locale's `n`, strftime
directives).
"""

from __future__ import annotations

import keyword
import re
import string
import unicodedata
from collections.abc import Iterator

from mcpfactory.spec import _bounds

__all__ = ["parse_fields", "template_fields"]

_NESTED_FIELD = re.compile(r"\{[^{}]*\}")


def parse_fields(template: str, *, strict: bool) -> Iterator[str]:
    """Yield the field names of a str.format template; ValueError if one is not plain."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed template: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if strict and (not name or name.isdigit()):
            raise ValueError(f"placeholder '{{{name}}}' is positional; name it, e.g. '{{title}}'")
        if name and not name.isdigit() and (not name.isidentifier() or keyword.iskeyword(name)):
            raise ValueError(f"placeholder '{{{name}}}' is not a plain name (no attribute or index access)")
        if name and (folded := unicodedata.normalize("NFKC", name)) != name:
            # Keyword arguments are identifiers, which Python folds; the template's key would never match.
            raise ValueError(f"placeholder '{{{name}}}' reads as '{folded}' in Python; write '{{{folded}}}'")
        if strict and conversion:
            raise ValueError(f"placeholder '{{{name}!{conversion}}}' uses a conversion; write '{{{name}}}'")
        if strict and spec and "{" in spec:
            raise ValueError(f"placeholder '{{{name}}}' nests a field in its format spec")
        if spec and (problem := _bounds.format_spec_problem(_NESTED_FIELD.sub("", spec))) is not None:
            raise ValueError(f"placeholder '{{{name}}}': {problem}")
        yield name
        if spec:
            yield from parse_fields(spec, strict=strict)


def template_fields(template: str) -> list[str]:
    """The placeholder names of an error message template, in order, without repeats."""
    return list(dict.fromkeys(parse_fields(template, strict=True)))
