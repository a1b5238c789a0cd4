"""The names a spec declares, and the names each may not take.

Tools, helpers and invariants become functions of the generated module, types
and records its classes, collections attributes of its `state`, parameters
locals of a body. Each shares a namespace with something else: a tool named
`len` would replace `len` for every body, a type named `Field` the pydantic
import, a collection named `collections` the state's own method, a helper
parameter named `state` the helper's first argument.

Python reads identifiers folded to Unicode NFKC (fullwidth `len`, U+FF4C U+FF45
U+FF4E, is `len`; the ligature U+FB01 followed by `le` is `file`), so every
check compares the folded name, and a name that is not already in that form is
refused: the spec would say one name and the server another.
"""

from __future__ import annotations

import builtins
import keyword
import unicodedata
from collections.abc import Iterable, Mapping

from mcpfactory.runtime import StateBase
from mcpfactory.spec._text import describe_character, printable

__all__ = ["BUILTIN_NAMES", "INJECTED", "MODULE_NAMES", "STATE_ATTRIBUTES", "NameRules", "fold"]

INJECTED = frozenset({"state", "rng", "now", "ToolError"})
# Module-level names of a generated server.py, which tools, helpers, invariants and types must not shadow.
MODULE_NAMES = frozenset(
    {"now", "seed", "build", "main", "env", "State", "Collection", "Environment", "StateBase", "ToolError"}
    | {"Number", "datetime", "random", "Path", "Annotated", "Any", "Literal", "NotRequired", "TypedDict"}
    | {"ConfigDict", "Field", "with_config", "Server", "load_json_seed", "ENV_NAME", "SPEC_SHA256", "CLOCK", "POLICY"}
    | {"SEED_FILES", "check_api_version", "scenario", "CallLimits"}
)
# Every builtin, including those the `site` module adds (help, exit, copyright, ...), whatever this process loaded.
BUILTIN_NAMES = frozenset(
    {name for name in dir(builtins) if not name.startswith("_")}
    | {"help", "exit", "quit", "copyright", "credits", "license"}
)
# A collection is set as an attribute of the state object, over anything of that name on the class.
STATE_ATTRIBUTES = frozenset(name for name in dir(StateBase) if not name.startswith("_"))
# Module-level names and state attributes: a look-alike letter (a Cyrillic U+0435 in 'len') passes for another name.
_ASCII_KINDS = frozenset({"type", "record", "tool", "helper", "invariant", "collection"})
_TYPE_SYNTAX = frozenset({"str", "int", "float", "bool", "any", "None", "list", "dict", "Literal", "ref"})


def fold(name: str) -> str:
    """The name as Python reads it."""
    return unicodedata.normalize("NFKC", name)


class NameRules:
    """What each kind of declared name may not be, given the names the spec declares elsewhere."""

    def __init__(
        self,
        *,
        types: Iterable[str] = (),
        tools: Iterable[str] = (),
        helpers: Iterable[str] = (),
        invariants: Iterable[str] = (),
        views: Iterable[str] = (),
    ) -> None:
        self.declared: dict[str, str] = {}
        for kind, names in (("invariant", invariants), ("helper", helpers), ("tool", tools), ("type", types)):
            self.declared.update({fold(name): f"{kind} '{name}'" for name in names})
        # A view is the function view_<name>: a tool, helper, invariant or type of that name would replace it.
        self.declared.update({f"view_{fold(name)}": f"the function of view '{name}'" for name in views})

    def _module_level(self) -> dict[str, str]:
        taken = dict.fromkeys(BUILTIN_NAMES, "a Python builtin")
        taken.update(dict.fromkeys(MODULE_NAMES, "the generated module"))
        taken.update(dict.fromkeys(INJECTED, "a name every body is given"))
        return taken

    def problem(self, kind: str, name: str) -> tuple[str, str | None] | None:
        """Why `name` cannot name a `kind` (type, tool, helper, invariant, collection, field, parameter), or None."""
        folded = fold(name)
        shown = printable(name)
        if not folded.isidentifier() or keyword.iskeyword(folded):
            return f"{kind} name '{shown}' is not a valid identifier", None
        if folded.startswith("_") and kind != "field":
            return f"{kind} name '{shown}' starts with an underscore", "choose another name"
        if folded.startswith("__"):  # a class body would mangle it into _Record__name
            return f"{kind} name '{shown}' starts with two underscores", "choose another name"
        taken = self._taken(kind, name)
        if folded != name:
            clash = f", which is {taken[folded]}" if folded in taken else ""
            return f"{kind} name '{shown}' reads as '{folded}' in Python (Unicode NFKC){clash}", f"write '{folded}'"
        if kind in _ASCII_KINDS and not name.isascii():
            char = next(c for c in name if not c.isascii())
            return (
                f"{kind} name '{shown}' holds the non-ASCII character {describe_character(char)}",
                "names of the generated module are ASCII, so that each reads as what it is",
            )
        if folded in taken:
            hint = "choose another name"
            if kind == "parameter":
                hint = f"name the variable otherwise and keep '{name}' as the argument's name with 'alias: {name}'"
            return f"{kind} name '{name}' is taken: it is {taken[folded]}", hint
        return None

    def _taken(self, kind: str, name: str) -> Mapping[str, str]:
        if kind in ("tool", "helper", "invariant", "type"):
            taken = self._module_level()
            if kind == "type":
                taken.update(dict.fromkeys(_TYPE_SYNTAX, "part of the type syntax"))
            taken.update({k: v for k, v in self.declared.items() if v != f"{kind} '{name}'"})
            return taken
        if kind == "collection":
            taken = dict.fromkeys(STATE_ATTRIBUTES, "a method of the state object")
            taken.update(dict.fromkeys(BUILTIN_NAMES, "a Python builtin"))
            taken.update(dict.fromkeys(INJECTED, "a name every body is given"))
            return taken
        if kind == "parameter":
            # A parameter is a local of one body: shadowing a builtin there is that body's business (calling it
            # is reported by the body checker), but the injected names and the helpers are every body's.
            taken = dict.fromkeys(INJECTED, "a name every body is given")
            taken.update({k: v for k, v in self.declared.items() if v.startswith("helper ")})
            return taken
        return {}
