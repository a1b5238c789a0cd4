"""Pages of a list tool's results: the arguments that ask for one, the typed page, and the slicing.

A tool declared with a `page` (docs/spec.md "Pages") has a body that returns
the whole list, in a deterministic order; the runtime adds the page's
arguments to the tool and returns one page of that list, as a typed object:

| style | arguments (default names) | result |
| --- | --- | --- |
| `cursor` | `cursor` (from the last page; none for the first), `limit` | `{items, next_cursor}` |
| `offset` | `offset` (from 0), `limit` | `{items, total, next_offset}` |
| `page` | `page` (from 1), `limit` | `{items, total, next_page}` |

`next_*` is null on the last page. A cursor is opaque to the caller and the
same for the same position, so the same calls give the same pages; a cursor
the tool never handed out is refused with the domain error `invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pydantic
from typing_extensions import TypedDict

from ._protocol import INVALID_CURSOR

__all__ = ["PAGE_ERRORS", "PageStyle", "Paging"]

PageStyle = Literal["cursor", "offset", "page"]

PAGE_ERRORS: Mapping[str, str] = {INVALID_CURSOR: "The cursor {cursor} is not one this tool handed out."}
"""The domain errors of a cursor-paged tool, by code, with their message templates."""

_ROLES: Mapping[str, tuple[str, str]] = {
    "cursor": ("cursor", "limit"),
    "offset": ("offset", "limit"),
    "page": ("page", "limit"),
}
_NEXT = {"cursor": "next_cursor", "offset": "next_offset", "page": "next_page"}
_FIELD_PREFIX = (
    "page_arg_"  # the argument model's own names for the page's arguments (their aliases are the wire names)
)
_CURSOR_TAG = "at:"


def _encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{position}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.startswith(_CURSOR_TAG) or not text[len(_CURSOR_TAG) :].isdigit():
        return None
    position = int(text[len(_CURSOR_TAG) :])
    return position if _encode_cursor(position) == cursor else None


@dataclass(frozen=True)
class Paging:
    """How a list tool pages its results: the style, the default and largest page, the arguments' names."""

    style: PageStyle
    size: int = 20
    max_size: int = 100
    names: Mapping[str, str] = field(default_factory=dict)  # role (cursor, offset, page, limit) -> argument name

    def __post_init__(self) -> None:
        if self.style not in _ROLES:
            raise ValueError(f"page style must be cursor, offset or page, not {self.style!r}")
        if not 1 <= self.size <= self.max_size:
            raise ValueError(f"page size {self.size} must be between 1 and max_size {self.max_size}")

    @property
    def roles(self) -> tuple[str, str]:
        """The page's arguments by role: where the page starts, and how many items it holds."""
        return _ROLES[self.style]

    def name(self, role: str) -> str:
        """The argument's name in the tool's schema."""
        return self.names.get(role, role)

    @property
    def errors(self) -> Mapping[str, str]:
        """The domain errors this paging adds to its tool."""
        return PAGE_ERRORS if self.style == "cursor" else {}

    def fields(self) -> dict[str, tuple[Any, Any]]:
        """The page's arguments as fields of the tool's argument model, `{field: (annotation, FieldInfo)}`."""
        start, limit = self.roles
        out: dict[str, tuple[Any, Any]] = {}
        if start == "cursor":
            text = "Where the page starts: the next_cursor of the previous page; omit it for the first page."
            out[_FIELD_PREFIX + start] = (str | None, pydantic.Field(None, alias=self.name(start), description=text))
        elif start == "offset":
            text = "How many items to skip (0 for the first page)."
            annotation: Any = Annotated[int, pydantic.Field(ge=0)]
            out[_FIELD_PREFIX + start] = (annotation, pydantic.Field(0, alias=self.name(start), description=text))
        else:
            text = "Which page to return, from 1."
            annotation = Annotated[int, pydantic.Field(ge=1)]
            out[_FIELD_PREFIX + start] = (annotation, pydantic.Field(1, alias=self.name(start), description=text))
        text = f"How many items a page holds (at most {self.max_size})."
        annotation = Annotated[int, pydantic.Field(ge=1, le=self.max_size)]
        out[_FIELD_PREFIX + limit] = (annotation, pydantic.Field(self.size, alias=self.name(limit), description=text))
        return out

    def result_type(self, items: Any) -> Any:
        """The type of a page whose `items` are of type `items` (the body's list type)."""
        fields: dict[str, Any] = {"items": items}
        if self.style != "cursor":
            fields["total"] = int
        fields[_NEXT[self.style]] = str | None if self.style == "cursor" else int | None
        page = TypedDict("Page", fields)  # type: ignore[misc]  # built at run time, as the loader builds records
        page.__pydantic_config__ = pydantic.ConfigDict(extra="forbid")  # type: ignore[attr-defined]
        return page

    def take(self, arguments: dict[str, Any]) -> tuple[Any, int]:
        """Remove the page's arguments from a call's validated arguments; return (start, limit)."""
        start, limit = self.roles
        return arguments.pop(_FIELD_PREFIX + start), arguments.pop(_FIELD_PREFIX + limit)

    def apply(self, value: Any, start: Any, limit: int) -> dict[str, Any]:
        """One page of the list `value`; raise `ToolError(invalid_cursor)` for a cursor never handed out.

        Raises `TypeError` if `value` is not a list (a bug of the body).
        """
        from ._calls import ToolError

        if not isinstance(value, list | tuple):
            raise TypeError(f"a paged tool's body returns a list, not {type(value).__name__}")
        if self.style == "cursor":
            position = 0 if start is None else _decode_cursor(start)
            if position is None or position > len(value):
                raise ToolError(INVALID_CURSOR, cursor=start)
        elif self.style == "offset":
            position = start
        else:
            position = (start - 1) * limit
        end = position + limit
        items = list(value[position:end])
        more = end < len(value)
        page: dict[str, Any] = {"items": items}
        if self.style == "cursor":
            page["next_cursor"] = _encode_cursor(end) if more else None
        elif self.style == "offset":
            page["total"] = len(value)
            page["next_offset"] = end if more else None
        else:
            page["total"] = len(value)
            page["next_page"] = start + 1 if more else None
        return page
