"""A list tool's `page:` in a spec: checked against the tool, and made into the runtime's `Paging`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable

from mcpfactory.runtime import Paging
from mcpfactory.spec._model import PageSpec
from mcpfactory.spec._types import TypeExpr

__all__ = ["resolve_page"]

_ARGUMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
Report = Callable[[tuple[str | int, ...], str, str | None], None]


def resolve_page(
    loc: tuple[str | int, ...], page: PageSpec, returns: TypeExpr | None, wire_names: Iterable[str], report: Report
) -> Paging | None:
    """The paging of a tool whose `page:` is at `loc`; report each mistake (`report(loc, message, hint)`)."""
    ok = True
    if returns is not None and returns.kind != "list":
        report((*loc[:-1], "returns"), "a paged tool's body returns the whole list: returns: list[...]", None)
        ok = False
    if page.size > page.max_size:
        report((*loc, "size"), f"size {page.size} is above max_size {page.max_size}", None)
        ok = False
    roles = Paging(page.style).roles
    taken = set(wire_names)
    names: dict[str, str] = {}
    for role, name in page.params.items():
        if role not in roles:
            close = difflib.get_close_matches(role, roles, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"{page.style}-style pages take {' and '.join(roles)}"
            report((*loc, "params", role), f"'{role}' is not an argument of {page.style}-style pages", hint)
            ok = False
        elif not _ARGUMENT.match(name):
            report((*loc, "params", role), f"{name!r} is not a valid argument name", None)
            ok = False
        else:
            names[role] = name
    chosen = [names.get(role, role) for role in roles]
    for role, name in zip(roles, chosen, strict=True):
        if name in taken:
            where = (*loc, "params", role) if role in names else loc
            report(where, f"the page's argument '{name}' is also a parameter of the tool", "rename one of them")
            ok = False
    if chosen[0] == chosen[1]:
        report((*loc, "params"), f"the page's two arguments are both named '{chosen[0]}'", None)
        ok = False
    if not ok:
        return None
    return Paging(page.style, page.size, page.max_size, names)
