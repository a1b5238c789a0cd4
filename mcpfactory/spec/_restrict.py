"""Static restriction checks for tool bodies and invariant expressions.

Threat model: a spec, and so its Python snippets, may be written by a model or
by someone we do not fully trust. The generated server runs bodies in-process,
so a body must not reach anything beyond its parameters, `state`, `rng`, `now`,
`ToolError`, the safe builtins and a few pure stdlib modules. This module is the
static half of that guarantee: it parses the snippet with `ast`, walks the whole
tree and rejects everything that could lead elsewhere:

- names that do not resolve (a proper scope analysis: a load must be bound in
  its own or an enclosing function scope, or be an injected or safe builtin),
  and the escape builtins (`eval`, `getattr`, `type`, ...) by name;
- any name or attribute with a leading underscore (dunders: `__class__`,
  `__globals__`, `__subclasses__`, ...) and the underscore-free frame and code
  attributes (`gi_frame`, `f_globals`, `tb_frame`, ...);
- imports outside a short allowlist; an imported module may only be used to
  reach its attributes, which are resolved against the real module so that
  modules re-exported by allowed ones (`statistics.sys`, `json.codecs`) and
  shared mutable state (`decimal.getcontext`, `copy.dispatch_table`, ABC
  `register`) are refused, and no attribute may be assigned at all (no
  monkeypatching of modules or classes);
- mutating methods taken from a class that is known statically
  (`dict.update(record, ...)`, `collections.Counter.clear(record)`): they would
  skip the read-only overrides of records (aliases such as `d = dict` are out
  of reach of a static check; see the runtime);
- format-string attribute walks (`"{0.__class__}".format`, `string.Formatter`),
  the wall clock, `global`/`nonlocal`, classes, decorators, generators, async,
  `with`, catch-alls that would swallow `ToolError`;
- rebinding a name every body is given (`state`, `rng`, `now`, `ToolError`, the
  helpers) anywhere, since the checks above assume what those names are; names
  are compared as Python reads them, folded to NFKC;
- what makes a result depend on the machine: the time zone (`astimezone`,
  `timestamp`) and the locale (strftime names, the `n` format, `re.LOCALE`);
- what can be seen from the source to build too much (`_bounds`: constant
  exponents, repetitions, format widths), and control or bidi characters.

Everything this module lets through runs as an ordinary function of the
generated server module, with that module's globals (`random`, `datetime`, ...)
and the real builtins one lookup away: name resolution here is what keeps them
out of reach, so a load that no scope binds is always an error. The runtime
guards are the other half: records handed out read-only, writes checked per
call and per tool effect, and a bound on each call's CPU time and memory for
what depends on run-time values (`while True`, `"x" * count`). Deliberate
leniencies: the bare name `_` (a throwaway) is allowed, and a tool parameter may
shadow a builtin (`type`, `id`, `zip`), since the load then reads the parameter
(calling it is reported).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TypeGuard

from mcpfactory.spec import _bounds
from mcpfactory.spec._rules import (
    ALLOWED_IMPORTS,
    ALLOWED_MODULES,
    ANNOTATION_NAMES,
    ANNOTATION_NODES,
    BLOCKED_ATTRS,
    BODY_NAMES,
    BUILTIN_TYPES,
    CALL_ONLY_ATTRS,
    CATCH_HINT,
    CONSTRUCTS,
    EXPRESSION_NAMES,
    FORBIDDEN_NAMES,
    IMPORT_HINTS,
    INTROSPECTION_ATTRS,
    LOCALE_INLINE_FLAG,
    MUTATORS,
    PROCESS_STATE_ATTRS,
    SAFE_BUILTINS,
    SETATTR_HINT,
    STATE_ONLY_ATTRS,
    STRFTIME_METHODS,
    WALL_CLOCK_ATTRS,
    container_type_message,
    is_container_type,
)
from mcpfactory.spec._templates import parse_fields, template_fields
from mcpfactory.spec._text import bad_character, describe_character

__all__ = [
    "ALLOWED_IMPORTS",
    "BODY_NAMES",
    "EXPRESSION_NAMES",
    "FORBIDDEN_NAMES",
    "MAX_NESTING",
    "MAX_SOURCE_CHARS",
    "SAFE_BUILTINS",
    "VIOLATION_CODES",
    "Violation",
    "check_body",
    "check_expression",
    "template_fields",
]


@dataclass(frozen=True, slots=True)
class Violation:
    line: int  # 1-based line within the source given
    col: int  # 1-based column (characters)
    message: str
    hint: str | None = None
    code: str = "restricted"  # one of VIOLATION_CODES


VIOLATION_CODES = frozenset(
    {
        "syntax", "size", "import", "forbidden-name", "unknown-name", "underscore", "forbidden-attribute",
        "unknown-attribute", "attribute-assignment", "module-use", "construct", "except", "wall-clock",
        "format", "error-code", "container-type", "raise-from", "annotation", "reserved-name", "parameter-call",
        "bound", "process-state",
    }
)  # fmt: skip

MAX_SOURCE_CHARS = 20_000
MAX_NESTING = 40
_MAX_RAW_DEPTH = 200
_CHAINS = (ast.BinOp, ast.BoolOp, ast.Compare)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_MISSING = object()


def _suggest(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1)
    return f"did you mean '{close[0]}'?" if close else None


@dataclass
class _Scope:
    bound: set[str] = field(default_factory=set)
    statics: dict[str, object] = field(default_factory=dict)  # names bound by imports: the imported object

    def __or__(self, names: set[str]) -> _Scope:
        return _Scope(self.bound | names, self.statics)


# Imported up front so that submodules (collections.abc) are attributes of their parents.
_MODULES = {name: importlib.import_module(name) for name in sorted(ALLOWED_MODULES)}


def _import_module(name: str) -> ModuleType | None:
    return _MODULES.get(name)


def _allowed_module(value: object) -> TypeGuard[ModuleType]:
    return inspect.ismodule(value) and value.__name__ in ALLOWED_MODULES


def _bindings(roots: Iterable[ast.AST]) -> _Scope:
    """Names bound in one function scope, not descending into nested scopes (except for walrus targets)."""
    scope = _Scope()
    stack: list[tuple[ast.AST, bool]] = [(root, False) for root in roots]
    while stack:
        node, in_comp = stack.pop()
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            scope.bound.add(node.target.id)
        elif in_comp:
            pass
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            scope.bound.add(node.id)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.partition(".")[0]
                scope.bound.add(name)
                imported = _import_module(alias.name if alias.asname else name)
                if imported is not None:
                    scope.statics[name] = imported
        elif isinstance(node, ast.ImportFrom):
            source = _import_module(node.module or "") if node.level == 0 else None
            for alias in node.names:
                scope.bound.add(alias.asname or alias.name)
                value = getattr(source, alias.name, _MISSING) if not alias.name.startswith("_") else _MISSING
                if value is not _MISSING and (_allowed_module(value) or not inspect.ismodule(value)):
                    scope.statics[alias.asname or alias.name] = value
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            scope.bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            scope.bound.add(node.rest)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope.bound.add(node.name)
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            continue  # defaults, decorators and annotations hold no bindings we allow
        for child in ast.iter_child_nodes(node):
            stack.append((child, in_comp or isinstance(node, _COMPREHENSIONS)))
    return scope


def _depth_problem(tree: ast.AST) -> str | None:
    stack: list[tuple[ast.AST, int, int]] = [(tree, 0, 0)]
    while stack:
        node, raw, nesting = stack.pop()
        if raw > _MAX_RAW_DEPTH or nesting > MAX_NESTING:
            return f"code is nested more than {MAX_NESTING} levels deep"
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr_context | ast.operator | ast.boolop | ast.cmpop | ast.unaryop):
                continue
            chained = isinstance(child, _CHAINS) and type(child) is type(node)
            stack.append((child, raw + 1, nesting + (0 if chained else 1)))
    return None


class _Checker(ast.NodeVisitor):
    def __init__(
        self, lines: list[str], indent: int, names: frozenset[str], params: frozenset[str], reserved: frozenset[str]
    ) -> None:
        self.lines, self.indent, self.names, self.params = lines, indent, names, params
        self.reserved = reserved  # names every body is given (state, now, helpers, ...): never rebound
        self.values: frozenset[str] = frozenset()  # parameters the body never rebinds: JSON values
        self.expression = indent == 0
        self.error_templates: Mapping[str, str] | None = None
        self.type_names: frozenset[str] = frozenset()
        self.violations: list[Violation] = []
        self.scopes: list[_Scope] = []
        self.parents: dict[ast.AST, ast.AST] = {}

    # -- reporting ------------------------------------------------------
    def report(self, node: ast.AST, code: str, message: str, hint: str | None = None, *, at_attr: bool = False) -> None:
        line, offset = getattr(node, "lineno", None), getattr(node, "col_offset", None)
        if at_attr and isinstance(node, ast.Attribute) and node.end_lineno and node.end_col_offset:
            line, offset = node.end_lineno, node.end_col_offset - len(node.attr.encode())
        parent = node
        while line is None and parent in self.parents:  # comprehension, match_case: use the parent's place
            parent = self.parents[parent]
            line, offset = getattr(parent, "lineno", None), getattr(parent, "col_offset", None)
        line, offset = line or 1, offset or 0
        text = self.lines[line - 1] if line <= len(self.lines) else ""
        col = len(text.encode()[:offset].decode(errors="ignore")) - self.indent + 1
        self.violations.append(Violation(max(1, line - (1 if self.indent else 0)), max(1, col), message, hint, code))

    def run(self, tree: ast.AST, root: _Scope) -> None:
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.scopes = [root]
        self.visit(tree)

    # -- names ----------------------------------------------------------
    def resolve(self, name: str) -> _Scope | None:
        return next((scope for scope in reversed(self.scopes) if name in scope.bound), None)

    def is_global(self, name: str) -> bool:
        return self.resolve(name) is None and name in self.names

    def bind(self, node: ast.AST, name: str) -> None:
        if name in self.reserved:
            # Rebinding `state` would skip the receiver checks made on it (`state.register`); rebinding a helper
            # or `now` would make a body call something other than what the checks assumed.
            what = "a helper" if name not in BODY_NAMES else "given to every body"
            self.report(node, "reserved-name", f"'{name}' is {what} and may not be rebound", "choose another name")
        elif name in FORBIDDEN_NAMES and not (len(self.scopes) == 1 and name in self.params):
            self.report(node, "forbidden-name", f"'{name}' may not be rebound", "choose another name")
        elif name.startswith("_") and name != "_":
            self.report(node, "underscore", f"name '{name}' starts with an underscore", "choose another name")

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.bind(node, node.id)
            return
        name, parent = node.id, self.parents.get(node)
        scope = self.resolve(name)
        called = isinstance(parent, ast.Call) and parent.func is node
        if called and scope is self.scopes[0] and name in self.values:
            shadows = name in SAFE_BUILTINS or name in FORBIDDEN_NAMES
            self.report(
                node,
                "parameter-call",
                f"'{name}' is a parameter here, and a parameter cannot be called",
                f"it shadows the builtin {name}(); rename the parameter and keep '{name}' on the wire with 'alias'"
                if shadows
                else "a parameter holds a JSON value",
            )
        if scope is not None:
            if inspect.ismodule(scope.statics.get(name)) and not self.is_receiver(node):
                self.report(node, "module-use", f"module '{name}' may only be used as 'module.attribute'")
        elif name in FORBIDDEN_NAMES:
            what = "call to" if called else "use of"
            self.report(node, "forbidden-name", f"{what} '{name}' is not allowed", FORBIDDEN_NAMES[name])
        elif name.startswith("_") and name != "_":
            self.report(node, "underscore", f"name '{name}' starts with an underscore")
        elif name not in self.names:
            visible = {n for s in self.scopes for n in s.bound} | self.names
            hint = _suggest(name, (n for n in visible if not n.startswith("_")))
            if name in BODY_NAMES and self.expression:
                own = ", ".join(sorted(self.names - SAFE_BUILTINS))
                what = "invariant checks" if own == "state" else "this expression"
                hint = f"{what} can only use {own} and the safe builtins"
            self.report(node, "unknown-name", f"unknown name '{name}'", hint)
        elif name == "format" and not called:
            self.report(node, "format", "'format' may only be called directly")
        elif name == "pow" and not called:
            self.report(node, "bound", "'pow' may only be called directly", _POWER_HINT)
        elif name in BUILTIN_TYPES and not self.called_or_type_test(node):
            self.report(node, "container-type", *container_type_message(name))

    # -- attributes -----------------------------------------------------
    def static_of(self, node: ast.expr) -> object:
        """The object an import-rooted name or attribute chain denotes, or _MISSING if not known statically."""
        if isinstance(node, ast.Name):
            scope = self.resolve(node.id)
            if scope is None:
                return BUILTIN_TYPES.get(node.id, _MISSING) if node.id in self.names else _MISSING
            return scope.statics.get(node.id, _MISSING)
        if isinstance(node, ast.Attribute) and not node.attr.startswith("_"):
            inner = self.static_of(node.value)
            value = getattr(inner, node.attr, _MISSING) if _allowed_module(inner) else _MISSING
            return value if _allowed_module(value) or not inspect.ismodule(value) else _MISSING
        return _MISSING

    def report_attr(self, node: ast.AST, code: str, message: str, hint: str | None = None) -> None:
        self.report(node, code, message, hint, at_attr=True)

    def check_attr_name(self, node: ast.AST, attr: str) -> bool:
        if attr.startswith("_"):
            self.report_attr(node, "underscore", f"attribute '{attr}' starts with an underscore")
        elif attr in INTROSPECTION_ATTRS:
            self.report_attr(node, "forbidden-attribute", f"attribute '{attr}' exposes interpreter internals")
        elif attr in BLOCKED_ATTRS:
            self.report_attr(node, "forbidden-attribute", f"attribute '{attr}' is not allowed", BLOCKED_ATTRS[attr])
        elif attr in WALL_CLOCK_ATTRS:
            self.report_attr(
                node, "wall-clock", f"'.{attr}' reads the wall clock", "use now(), the environment's clock"
            )
        elif attr in PROCESS_STATE_ATTRS and not (attr == "timestamp" and _is_state(node)):
            self.report_attr(node, "process-state", *PROCESS_STATE_ATTRS[attr])
        else:
            return True
        return False

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.generic_visit(node)
        attr, receiver = node.attr, node.value
        if not isinstance(node.ctx, ast.Load):
            self.report_attr(
                node, "attribute-assignment", f"assigning to attribute '{attr}' is not allowed", SETATTR_HINT
            )
        elif not self.check_attr_name(node, attr):
            pass
        elif attr in ("format", "format_map"):
            if not (isinstance(receiver, ast.Constant) and isinstance(receiver.value, str)):
                self.report_attr(node, "format", f"'.{attr}' is only allowed on a string literal", "use an f-string")
            else:
                try:
                    list(parse_fields(receiver.value, strict=False))
                except ValueError as exc:
                    self.report(receiver, "format", f"format string: {exc}")
        elif attr in STATE_ONLY_ATTRS and not (isinstance(receiver, ast.Name) and receiver.id == "state"):
            self.report_attr(node, "forbidden-attribute", f"'.{attr}' is not allowed", STATE_ONLY_ATTRS[attr])
        elif attr in STRFTIME_METHODS and not self.is_called(node):
            self.report_attr(node, "process-state", f"'.{attr}' may only be called directly, with a literal format")
        elif _allowed_module(module := self.static_of(receiver)):
            value, where = getattr(module, attr, _MISSING), f"{module.__name__}.{attr}"
            if value is re.LOCALE:
                self.report_attr(node, "process-state", *PROCESS_STATE_ATTRS["LOCALE"])
            elif value is _MISSING:
                hint = _suggest(attr, (n for n in dir(module) if not n.startswith("_")))
                self.report_attr(
                    node, "unknown-attribute", f"module '{module.__name__}' has no attribute '{attr}'", hint
                )
            elif inspect.ismodule(value) and not _allowed_module(value):
                self.report_attr(node, "forbidden-attribute", f"module '{where}' is not allowed")
            elif _allowed_module(value) and not self.is_receiver(node):
                self.report_attr(node, "module-use", f"module '{where}' may only be used as 'module.attribute'")
            elif is_container_type(value) and not self.called_or_type_test(node):
                self.report_attr(node, "container-type", *container_type_message(where))
        elif isinstance(cls := self.static_of(receiver), type) and attr in MUTATORS and hasattr(cls, attr):
            message = f"'{cls.__name__}.{attr}' taken from the class would bypass read-only records"
            self.report_attr(node, "forbidden-attribute", message, f"call it on the object: value.{attr}(...)")

    def called_or_type_test(self, node: ast.expr) -> bool:
        """Whether a class is only called, used as a receiver, given to defaultdict() or isinstance()."""
        parent = self.parents.get(node)
        if (isinstance(parent, ast.Call) and parent.func is node) or self.is_receiver(node):
            return True  # a class's mutating methods taken unbound are rejected in visit_Attribute
        if isinstance(parent, ast.Call) and parent.args[:1] == [node]:
            func = parent.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "defaultdict":
                return True  # default_factory, the only way back to the class, is a blocked attribute
        if isinstance(parent, ast.Tuple):
            node, parent = parent, self.parents.get(parent)
        return (
            isinstance(parent, ast.Call)
            and isinstance(parent.func, ast.Name)
            and parent.func.id == "isinstance"
            and len(parent.args) == 2
            and parent.args[1] is node
        )

    def is_called(self, node: ast.expr) -> bool:
        parent = self.parents.get(node)
        return isinstance(parent, ast.Call) and parent.func is node

    def is_receiver(self, node: ast.expr) -> bool:
        parent = self.parents.get(node)
        return isinstance(parent, ast.Attribute) and parent.value is node

    # -- imports --------------------------------------------------------
    def import_problem(self, node: ast.AST, module: str) -> bool:
        if module in ALLOWED_MODULES:
            return False
        hint = IMPORT_HINTS.get(module, "allowed modules: " + ", ".join(sorted(ALLOWED_MODULES)))
        self.report(node, "import", f"import of '{module}' is not allowed", hint)
        return True

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.import_problem(alias, alias.name)
            self.bind(alias, alias.asname or alias.name.partition(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.report(node, "import", "relative imports are not allowed")
            return
        if self.import_problem(node, node.module or ""):
            return
        module = _MODULES[node.module or ""]
        for alias in node.names:
            if alias.name == "*":
                self.report(alias, "import", "'import *' is not allowed", "import the names you need")
                continue
            if not self.check_attr_name(alias, alias.name):
                continue
            self.bind(alias, alias.asname or alias.name)
            value = getattr(module, alias.name, _MISSING)
            if value is _MISSING:
                names = (n for n in dir(module) if not n.startswith("_"))
                self.report(alias, "unknown-attribute", f"module '{node.module}' has no attribute '{alias.name}'",
                            _suggest(alias.name, names))  # fmt: skip
            elif inspect.ismodule(value) and not _allowed_module(value):
                self.report(alias, "forbidden-attribute", f"module '{node.module}.{alias.name}' is not allowed")
            elif value is re.LOCALE:
                self.report(alias, "process-state", *PROCESS_STATE_ATTRS["LOCALE"])

    # -- scopes ---------------------------------------------------------
    def visit_arguments(self, node: ast.arguments) -> None:
        for arg in _all_args(node):
            self.bind(arg, arg.arg)
            if arg.annotation is not None:
                self.visit(arg.annotation)
        for default in [*node.defaults, *node.kw_defaults]:
            if default is not None:
                self.visit(default)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if isinstance(node, ast.AsyncFunctionDef):
            self.report(node, "construct", "async functions are not allowed")
        for decorator in node.decorator_list:
            self.report(decorator, "construct", "decorators are not allowed", "call the function explicitly")
        if getattr(node, "type_params", None):  # def f[T: bound]() (Python 3.12): lazily evaluated bounds
            self.report(node, "construct", "type parameters are not allowed", "annotate with the spec's types")
            return
        self.bind(node, node.name)
        self.visit(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.scopes.append(_bindings(node.body) | {a.arg for a in _all_args(node.args)})
        for statement in node.body:
            self.visit(statement)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        if node.args.defaults or any(d is not None for d in node.args.kw_defaults):
            self.report(node, "construct", "lambda default arguments are not allowed", "use a nested def")
        self.visit(node.args)
        self.scopes.append(_bindings([node.body]) | {a.arg for a in _all_args(node.args)})
        self.visit(node.body)
        self.scopes.pop()

    def visit_comprehension_node(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        first = node.generators[0]
        self.visit(first.iter)  # evaluated in the enclosing scope
        scope = _Scope({n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)})
        self.scopes.append(scope)
        for i, gen in enumerate(node.generators):
            if gen.is_async:
                self.report(node, "construct", "async comprehensions are not allowed")
            self.visit(gen.target)
            if i:
                self.visit(gen.iter)
            for condition in gen.ifs:
                self.visit(condition)
        for part in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
            self.visit(part)
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_comprehension_node

    # -- calls ----------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        self.check_sizes(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id == "format" and self.is_global("format") and len(node.args) > 1:
            spec = node.args[1]
            if not (isinstance(spec, ast.Constant) and isinstance(spec.value, str)):
                self.report(spec, "format", "the format spec of format() must be a string literal")
            elif (problem := _bounds.format_spec_problem(spec.value)) is not None:
                self.report(spec, "format", problem)
        if isinstance(func, ast.Attribute) and func.attr in STRFTIME_METHODS:
            self.check_strftime(node, func.attr)
        if isinstance(func, ast.Name) and func.id == "pow" and self.is_global("pow"):
            exponent = (
                node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "exp"), None)
            )
            modulus = len(node.args) > 2 or any(k.arg == "mod" for k in node.keywords)
            if exponent is not None and not modulus and not _is_number(exponent):
                self.report(node, "bound", "pow() with an exponent that is not a literal is not allowed", _POWER_HINT)
        if isinstance(func, ast.Name) and func.id == "ToolError" and self.is_global("ToolError"):
            self.check_tool_error(node)

    def check_strftime(self, node: ast.Call, method: str) -> None:
        index = STRFTIME_METHODS[method]
        given = node.args[index] if len(node.args) > index else next(
            (kw.value for kw in node.keywords if kw.arg == "format"), None
        )  # fmt: skip
        if given is None:
            return  # Python reports the missing argument when the call runs
        if not (isinstance(given, ast.Constant) and isinstance(given.value, str)):
            hint = "a format read at run time could ask for the locale's names (%a, %c, ...)"
            self.report(given, "process-state", f"the format of '.{method}' must be a string literal", hint)
        elif (problem := _bounds.strftime_problem(given.value)) is not None:
            self.report(given, "process-state", problem)

    def check_sizes(self, node: ast.AST) -> None:
        for where, problem in _bounds.size_problems(node):
            self.report(where, "bound", problem, "the run-time bound would stop it; compute only what you need")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.generic_visit(node)
        self.check_sizes(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow) and not _is_number(node.value):
            # The server checks `x ** y` before computing it; `x **= y` and pow(x, y) would skip that check.
            self.report(
                node, "bound", "'**=' with an exponent that is not a literal is not allowed", "write x = x ** y"
            )

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self.generic_visit(node)
        for part in node.values:
            if isinstance(part, ast.FormattedValue) and isinstance(part.format_spec, ast.JoinedStr):
                # Only the literal parts of a spec are known here; a nested {field} is bounded at run time.
                literal = "".join(
                    p.value for p in part.format_spec.values if isinstance(p, ast.Constant) and isinstance(p.value, str)
                )
                if (problem := _bounds.format_spec_problem(literal)) is not None:
                    self.report(node, "format", problem)  # the spec's own position differs between Python versions

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, bytes) and LOCALE_INLINE_FLAG.search(node.value):
            self.report(node, "process-state", "the inline flag '(?L)' makes matching follow the machine's locale")

    def check_tool_error(self, node: ast.Call) -> None:
        if not node.args or not (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            where = node.args[0] if node.args else node
            hint = "write ToolError('code', field=value, ...)"
            self.report(where, "error-code", "ToolError needs a literal error code as its first argument", hint)
            return
        code = node.args[0].value
        for extra in node.args[1:]:
            self.report(extra, "error-code", "ToolError takes its fields as keyword arguments", "write name=value")
        for kw in node.keywords:
            if kw.arg is None:
                self.report(kw, "error-code", "ToolError fields must be given as name=value, not **mapping")
        templates = self.error_templates
        if templates is None:
            return
        if code not in templates:
            declared = ", ".join(f"'{c}'" for c in templates)
            hint = " ".join(filter(None, [_suggest(code, templates), f"declared codes: {declared}"]))
            if not templates:
                hint = "declare it under the tool's 'errors:'"
            self.report(node.args[0], "error-code", f"unknown error code '{code}'", hint)
            return
        try:
            fields = template_fields(templates[code])
        except ValueError:
            return  # the loader reports bad templates
        given = {kw.arg for kw in node.keywords}
        if None in given:
            return
        missing = [f for f in fields if f not in given]
        for kw in node.keywords:
            if kw.arg not in fields:
                hint = _suggest(kw.arg or "", missing) or f"its message is {templates[code]!r}"
                self.report(kw, "error-code", f"error '{code}' has no field '{kw.arg}'", hint)
        if missing:
            names = ", ".join(f"'{m}'" for m in missing)
            hint = f"its message is {templates[code]!r}"
            self.report(node, "error-code", f"error '{code}' needs field(s) {names}", hint)

    # -- statements and constructs --------------------------------------
    def visit_Try(self, node: ast.Try | ast.TryStar) -> None:
        # A return, break or continue that leaves a `finally` block discards the exception in flight, including
        # the one the server raises to end a call past its CPU or memory bound (PEP 765 deprecates them).
        for escape in _finally_escapes(node.finalbody):
            what = type(escape).__name__.lower()
            hint = "move it after the try statement"
            self.report(escape, "construct", f"'{what}' inside 'finally' would discard the exception in flight", hint)
        self.generic_visit(node)

    visit_TryStar = visit_Try

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            self.report(node, "except", "a bare 'except:' would also catch ToolError", CATCH_HINT)
        types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type] if node.type else []
        for kind in types:
            if isinstance(kind, ast.Name) and kind.id in ("Exception", "BaseException") and not self.resolve(kind.id):
                self.report(kind, "except", f"'except {kind.id}' would also catch ToolError", CATCH_HINT)
            else:
                self.visit(kind)
        if node.name:
            self.bind(node, node.name)
        for statement in node.body:
            self.visit(statement)
            for inner in ast.walk(statement):
                if isinstance(inner, ast.Raise) and inner.exc is not None and inner.cause is None:
                    self.report(
                        inner,
                        "raise-from",
                        "a raise inside 'except' must say 'from None' (or 'from err')",
                        "write: raise ToolError(...) from None",
                    )

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)
        for part in ast.walk(node.annotation):
            if isinstance(part, ast.Name) and part.id not in self.type_names | ANNOTATION_NAMES:
                hint = _suggest(part.id, sorted(self.type_names | ANNOTATION_NAMES))
                self.report(part, "annotation", f"'{part.id}' is not a type of this spec", hint)
            elif not isinstance(part, ANNOTATION_NODES):
                self.report(part, "annotation", "an annotation may only name types: T, list[T], dict[str, T], T | None")

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        for attr in node.kwd_attrs:
            if self.check_attr_name(node, attr) and attr in CALL_ONLY_ATTRS:
                # A class pattern hands out the bound method, which no receiver check would then see.
                message = f"a class pattern may not capture '.{attr}'"
                self.report(node, "forbidden-attribute", message, "call the method on the subject instead")
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs | ast.MatchStar) -> None:
        if node.name:
            self.bind(node, node.name)
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bind(node, node.rest)
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        construct = CONSTRUCTS.get(type(node))
        if construct is not None:
            self.report(node, "construct", construct[0], construct[1])
            if isinstance(node, ast.ClassDef | ast.Global | ast.Nonlocal):
                return
        if getattr(node, "type_params", None):  # def f[T: bound]() (Python 3.12): lazily evaluated bounds
            self.report(node, "construct", "type parameters are not allowed", "annotate with the spec's types")
        super().generic_visit(node)


def _is_state(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "state"


_POWER_HINT = "write x ** y, which the server checks before computing it; pow(x, y, mod) is fine"


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool)


def _finally_escapes(statements: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The return, break and continue statements that would leave these `finally` statements."""
    stack: list[tuple[ast.AST, bool]] = [(statement, False) for statement in statements]
    while stack:
        node, in_loop = stack.pop()
        if isinstance(node, ast.Return) or (isinstance(node, ast.Break | ast.Continue) and not in_loop):
            yield node
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            continue
        for child in ast.iter_child_nodes(node):
            stack.append((child, in_loop or isinstance(node, ast.For | ast.While | ast.AsyncFor)))


def _all_args(args: ast.arguments) -> list[ast.arg]:
    return [a for a in [*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg] if a is not None]


_BODY_GLOBALS = BODY_NAMES | SAFE_BUILTINS


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def _normalize(source: str) -> list[Violation] | str:
    if len(source) > MAX_SOURCE_CHARS:
        return [Violation(1, 1, f"source is longer than {MAX_SOURCE_CHARS} characters", None, "size")]
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    # A form feed resets the tokenizer's indentation count, so a body pasted under a `def` could dedent out of
    # it; other separators split lines for str.splitlines (and so textwrap) but not for the tokenizer; a NUL
    # makes the module unimportable; bidirectional overrides make code read otherwise than it runs.
    for number, line in enumerate(source.split("\n"), 1):
        index = bad_character(line)
        if index is not None:
            char = line[index]
            hint = "write it as an escape inside a string literal"
            message = f"character {describe_character(char)} is not allowed in code"
            return [Violation(number, index + 1, message, hint, "syntax")]
    return source


def _syntax_violation(exc: SyntaxError, indent: int) -> Violation:
    line, col = (exc.lineno or 1) - (1 if indent else 0), (exc.offset or 1) - indent
    return Violation(max(1, line), max(1, col), f"syntax error: {exc.msg}", None, "syntax")


def _parse(text: str, mode: str, indent: int) -> ast.AST | list[Violation]:
    try:
        return ast.parse(text, mode=mode)
    except SyntaxError as exc:
        return [_syntax_violation(exc, indent)]
    except (RecursionError, MemoryError, ValueError):
        return [Violation(1, 1, "code is too deeply nested or too complex", None, "size")]


def _finish(checker: _Checker, tree: ast.Module | ast.Expression, mode: str) -> list[Violation]:
    if not checker.violations:
        try:  # compile-time errors the parser lets through ('break' outside a loop, ...)
            compile(tree, "<body>", mode, dont_inherit=True)
        except SyntaxError as exc:
            checker.violations.append(_syntax_violation(exc, checker.indent))
        except (RecursionError, MemoryError, ValueError):
            checker.violations.append(Violation(1, 1, "code is too deeply nested or too complex", None, "size"))
    return sorted(checker.violations, key=lambda v: (v.line, v.col))


def check_body(
    source: str,
    *,
    params: Iterable[str] = (),
    error_templates: Mapping[str, str] | None = None,
    type_names: Iterable[str] = (),
    helpers: Iterable[str] = (),
) -> list[Violation]:
    """Check a tool body (the inside of a function; `return` allowed). Empty list = OK.

    `type_names` are the spec's record and object types, which local annotations may name;
    `helpers` are the spec's shared functions, which the body may call and may not rebind.
    Names are compared as Python reads them (NFKC-folded). The caller checks that no parameter
    is itself an injected name (the loader reports that at the parameter).
    """
    params, helpers, type_names = (frozenset(_fold(n) for n in names) for names in (params, helpers, type_names))
    normalized = _normalize(source)
    if isinstance(normalized, list):
        return normalized
    lines = ["def _body():", *("    " + line for line in normalized.split("\n"))]
    tree = _parse("\n".join(lines), "exec", 4)
    if isinstance(tree, list):
        return tree
    if (problem := _depth_problem(tree)) is not None:
        return [Violation(1, 1, problem, None, "size")]
    assert isinstance(tree, ast.Module)
    checker = _Checker(lines, 4, _BODY_GLOBALS | helpers, params, BODY_NAMES | helpers)
    checker.error_templates = error_templates
    checker.type_names = type_names
    if len(tree.body) != 1:
        checker.report(tree.body[1], "syntax", "code outside the body's indentation", "check the indentation")
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    root = _bindings(function.body)
    checker.values = checker.params - root.bound
    root.bound |= checker.params
    checker.run(ast.Module(body=[*function.body, *tree.body[1:]], type_ignores=[]), root)
    return _finish(checker, tree, "exec")


def check_expression(source: str, *, names: Iterable[str] = EXPRESSION_NAMES) -> list[Violation]:
    """Check a single Python expression over `names` (an invariant's `state`) and the safe builtins."""
    normalized = _normalize(source)
    if isinstance(normalized, list):
        return normalized
    tree = _parse(normalized, "eval", 0)
    if isinstance(tree, list):
        return tree
    if (problem := _depth_problem(tree)) is not None:
        return [Violation(1, 1, problem, None, "size")]
    assert isinstance(tree, ast.Expression)
    given = frozenset(_fold(name) for name in names)  # what the expression reads; it may not rebind them
    checker = _Checker(normalized.split("\n"), 0, given | SAFE_BUILTINS, frozenset(), given)
    checker.run(tree, _bindings([tree]))
    return _finish(checker, tree, "eval")
