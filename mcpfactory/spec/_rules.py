"""What bodies may use, and what is refused with which message: the tables the body checker reads.

Kept apart from the checker (`_restrict`) so that each table can be read, and
argued about, on its own.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ALLOWED_IMPORTS",
    "ALLOWED_MODULES",
    "ANNOTATION_NAMES",
    "ANNOTATION_NODES",
    "ATTR_HINT",
    "BLOCKED_ATTRS",
    "BODY_NAMES",
    "BUILTIN_TYPES",
    "CALL_ONLY_ATTRS",
    "CATCH_HINT",
    "CODE_HINT",
    "CONSTRUCTS",
    "DECIMAL_HINT",
    "EPOCH_HINT",
    "EXPRESSION_NAMES",
    "FORBIDDEN_NAMES",
    "IMPORT_HINTS",
    "INTROSPECTION_ATTRS",
    "LOCALE_INLINE_FLAG",
    "MUTATORS",
    "PROCESS_STATE_ATTRS",
    "SAFE_BUILTINS",
    "SETATTR_HINT",
    "STATE_ONLY_ATTRS",
    "STRFTIME_METHODS",
    "WALL_CLOCK_ATTRS",
    "container_type_message",
    "is_container_type",
]

ALLOWED_IMPORTS = frozenset(
    {"math", "re", "datetime", "json", "string", "itertools", "functools", "collections", "statistics", "decimal"}
    | {"fractions", "copy"}
)
ALLOWED_MODULES = ALLOWED_IMPORTS | {"collections.abc"}
SAFE_BUILTINS = frozenset(
    {
        "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float", "format",
        "frozenset", "int", "isinstance", "iter", "len", "list", "map", "max", "min", "next", "ord", "pow",
        "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip",
        "ArithmeticError", "AssertionError", "IndexError", "KeyError", "LookupError", "NotImplementedError",
        "OverflowError", "RuntimeError", "StopIteration", "TypeError", "ValueError", "ZeroDivisionError",
    }
)  # fmt: skip
BODY_NAMES = frozenset({"state", "rng", "now", "ToolError"})
EXPRESSION_NAMES = frozenset({"state"})

CODE_HINT = "bodies cannot run dynamic code"
ATTR_HINT = "use attribute syntax (x.name), or subscripts for records (record['field'])"
SETATTR_HINT = "bodies may not set attributes; records are dicts: use record['field'] = value"
CATCH_HINT = "raise ToolError for domain errors; catch specific exceptions such as KeyError"
FORBIDDEN_NAMES: Mapping[str, str | None] = {
    "exec": CODE_HINT, "eval": CODE_HINT, "compile": CODE_HINT, "__import__": "import an allowed module",
    "open": "bodies have no file access; keep data in state", "input": None, "help": None, "exit": None,
    "quit": None, "breakpoint": None, "print": "return the value instead of printing it",
    "getattr": ATTR_HINT, "setattr": ATTR_HINT, "delattr": ATTR_HINT, "hasattr": ATTR_HINT,
    "vars": None, "globals": None, "locals": None, "dir": None, "id": None, "memoryview": None,
    "type": "use isinstance() to test a type", "object": None, "super": None, "classmethod": None,
    "staticmethod": None, "property": None, "issubclass": "use isinstance()",
    "Exception": CATCH_HINT, "BaseException": CATCH_HINT,
}  # fmt: skip

# Attributes that reach frames, code or globals without an underscore.
INTROSPECTION_ATTRS = frozenset(
    {
        "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "cr_origin", "ag_frame", "ag_code",
        "ag_await", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "tb_frame", "co_code",
        "co_consts", "func_globals", "func_code", "im_func", "im_self", "mro",
    }
)  # fmt: skip
# Gadgets and shared mutable state in allowed modules, refused under any receiver.
DECIMAL_HINT = "the decimal context is shared by the process; use a decimal.Context(...) of your own"
BLOCKED_ATTRS: Mapping[str, str] = {
    **dict.fromkeys(["getcontext", "setcontext", "localcontext", "DefaultContext", "BasicContext"], DECIMAL_HINT),
    "ExtendedContext": DECIMAL_HINT,
    "Formatter": "string.Formatter resolves attributes by name; use f-strings",
    "update_wrapper": "it copies attributes by name",
    "wraps": "it copies attributes by name",
    "dispatch_table": "it is shared by the whole process",
    "default_factory": "it hands out the factory class; build the value you need directly",
}
# Allowed only as collection names on `state`: ABC registration is process-wide, NormalDist.samples is unseeded.
STATE_ONLY_ATTRS = {"register": "it changes process-wide state", "samples": "use rng for random draws"}
# Mutating methods taken unbound from a class (`dict.update(record, ...)`) skip the read-only overrides.
BUILTIN_TYPES: Mapping[str, type] = {"dict": dict, "list": list, "set": set}
MUTATORS = frozenset(
    {"append", "extend", "insert", "remove", "sort", "reverse", "clear", "pop", "popitem", "setdefault", "update"}
    | {"add", "discard", "difference_update", "intersection_update", "symmetric_difference_update"}
)


def is_container_type(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, dict | list | set)


def container_type_message(name: str) -> tuple[str, str]:
    # Any handle on the class itself (`f = dict; f.update(record, ...)`, `max(list, list)`,
    # `defaultdict(list).default_factory`) reaches its unbound methods, which skip the read-only overrides.
    return (
        f"'{name}' may only be called, or passed to isinstance() or defaultdict()",
        "build a new value with it, e.g. dict(record) or list(items)",
    )


ANNOTATION_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict", "set", "tuple", "Any", "None"})
ANNOTATION_NODES = (ast.Name, ast.Subscript, ast.Tuple, ast.BinOp, ast.BitOr, ast.Constant, ast.Load)
WALL_CLOCK_ATTRS = frozenset({"now", "today", "utcnow", "fromtimestamp", "utcfromtimestamp"})
# Methods whose result depends on the machine's time zone or locale, not only on their arguments.
EPOCH_HINT = "compute it from the clock: (moment - datetime.datetime(1970, 1, 1)).total_seconds()"
PROCESS_STATE_ATTRS: Mapping[str, tuple[str, str]] = {
    "astimezone": (
        "'.astimezone' reads the machine's time zone",
        "attach a fixed zone instead: moment.replace(tzinfo=datetime.timezone.utc)",
    ),
    "timestamp": ("'.timestamp' reads the machine's time zone for a naive datetime", EPOCH_HINT),
    "LOCALE": ("'re.LOCALE' makes matching follow the machine's locale", "drop the flag"),
}
STRFTIME_METHODS = {"strftime": 0, "strptime": 1}  # method -> index of its format argument
LOCALE_INLINE_FLAG = re.compile(rb"\(\?[aiLmsux]*L")
IMPORT_HINTS = {
    "random": "use rng (the session's random.Random) instead of the random module",
    "time": "use now(), the environment's clock",
}
CALL_ONLY_ATTRS = frozenset({"format", "format_map", *STRFTIME_METHODS, *STATE_ONLY_ATTRS})

CONSTRUCTS: dict[type[Any], tuple[str, str | None]] = {
    ast.ClassDef: ("class definitions are not allowed", "use dicts for records and functions for behaviour"),
    ast.Global: ("'global' is not allowed", "bodies keep no state between calls; use state"),
    ast.Nonlocal: ("'nonlocal' is not allowed", "return values from nested functions instead"),
    ast.Yield: ("'yield' is not allowed", "build and return a list"),
    ast.YieldFrom: ("'yield from' is not allowed", "build and return a list"),
    ast.Await: ("'await' is not allowed", None),
    ast.AsyncFor: ("'async for' is not allowed", None),
    ast.AsyncWith: ("'async with' is not allowed", None),
    ast.With: ("'with' statements are not allowed", None),
}
if hasattr(ast, "TypeAlias"):  # Python 3.12: `type X = ...`, evaluated lazily, out of the checks' sight
    CONSTRUCTS[ast.TypeAlias] = ("'type' statements are not allowed", "annotate with the spec's types")
