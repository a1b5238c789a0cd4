"""Static bounds on what one expression of a body may build, and on the formats it may use.

The server bounds every call's CPU time and memory at run time; this module
refuses, before anything runs, what can be seen to be too big from the source
alone, so that a spec cannot even ask for it:

- integers built from constants (`2 ** 10 ** 9`, `1 << 10 ** 10`) past
  `MAX_INT_BITS`; a constant exponent or shift past `MAX_EXPONENT` whatever the
  base (the base may be an int at run time);
- sequences repeated by a constant (`"x" * 10 ** 9`, `[0] * n` with a constant n,
  `s.ljust(10 ** 9)`) past `MAX_ITEMS`;
- `Fraction`/`Decimal` of a literal with an exponent past `MAX_EXPONENT`, a
  decimal context precision past it, `math.factorial`/`comb`/`perm` of a constant
  past it;
- widths and precisions in format specs (`f"{x:>3000000000}"`, error templates,
  `format(x, spec)`, `"%9999999d" % x`) past `MAX_FORMAT_WIDTH`;
- formats whose output depends on the process rather than the call: the
  locale's number format (`{:n}`) and strftime directives that follow the
  locale or the time zone (`%a`, `%c`, `%x`, `%p`, `%s`, ...; only the
  locale-free directives are allowed, without platform flags such as `%-d`).

What depends on a value known only at run time (`"x" * count`, a width read
from a parameter, a regular expression from seed data) is the run-time
bound's business.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

__all__ = [
    "MAX_EXPONENT",
    "MAX_FORMAT_WIDTH",
    "MAX_INT_BITS",
    "MAX_ITEMS",
    "constant_int",
    "format_spec_problem",
    "printf_problem",
    "strftime_problem",
]

MAX_INT_BITS = 4_096  # about 1,233 decimal digits
MAX_EXPONENT = 10_000
MAX_ITEMS = 1_000_000
MAX_FORMAT_WIDTH = 1_000

# The format-spec mini-language of str.format, int, float, Decimal and str.
_STANDARD_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[,_]?(?:\.(?P<precision>\d+))?(?P<type>[bcdeEfFgGnosxX%])?", re.DOTALL
)
# strftime directives whose output is the same on every machine, in every locale and time zone.
_PORTABLE_DIRECTIVES = frozenset("dfGHIjmMSuUVwWyYzZ%")
_LOCALE_DIRECTIVES = frozenset("aAbBchpxXrPEO+")
_PRINTF = re.compile(
    rb"%(?:\([^)]*\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?(?P<type>[diouxXeEfFgGcrsa%])?"
)
_DIGITS = re.compile(r"\d+")


def _too_wide(number: str | None, what: str) -> str | None:
    if number is not None and int(number[:12]) > MAX_FORMAT_WIDTH:
        shown = number if len(number) <= 12 else number[:12] + "…"
        return f"format {what} {shown} is over the bound of {MAX_FORMAT_WIDTH}"
    return None


def strftime_problem(template: str) -> str | None:
    """Why a strftime/strptime format would depend on the machine or the platform, or None."""
    index = 0
    while (index := template.find("%", index)) != -1:
        directive = template[index + 1 : index + 2]
        if directive in _PORTABLE_DIRECTIVES and directive:
            index += 2
            continue
        if directive == ":" and template[index + 2 : index + 3] == "z":
            index += 3
            continue
        if directive in _LOCALE_DIRECTIVES and directive:
            return f"strftime directive '%{directive}' depends on the machine's locale"
        if directive == "s":
            return "strftime directive '%s' depends on the machine's time zone"
        shown = template[index : index + 3] if directive else "%"
        return f"strftime directive '{shown}' is not portable; use %Y %m %d %H %M %S %f %j %U %W %w %u %G %V %z %Z %%"
    return None


def format_spec_problem(spec: str) -> str | None:
    """Why a literal format spec (what follows ':' in a replacement field) is refused, or None."""
    standard = _STANDARD_SPEC.fullmatch(spec)
    if standard is not None:
        if standard["type"] == "n":
            return "format type 'n' follows the machine's locale; use ',' or '_' to group digits"
        return _too_wide(standard["width"], "width") or _too_wide(standard["precision"], "precision")
    if "%" in spec:  # a date or time's __format__ is strftime
        return strftime_problem(spec)
    for digits in _DIGITS.findall(spec):  # some other type's own mini-language: bound every number in it
        if (problem := _too_wide(digits, "number")) is not None:
            return problem
    return None


def printf_problem(template: str | bytes) -> str | None:
    """Why a literal `template % values` is refused (a width or precision past the bound), or None."""
    raw = template.encode("utf-8", "surrogatepass") if isinstance(template, str) else template
    for found in _PRINTF.finditer(raw):
        for what in ("width", "precision"):
            value = found[what]
            problem = _too_wide(value.decode("ascii"), what) if value is not None and value != b"*" else None
            if problem is not None:
                return problem
    return None


class _TooBig(Exception):
    pass


def _bits(value: int) -> int:
    return abs(value).bit_length()


def _fold(node: ast.AST) -> int | float | None:
    """The value of a constant numeric expression, computed only while it stays small; None if not constant.

    Raises `_TooBig` when the value would exceed the bounds.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        if isinstance(node.value, int) and _bits(node.value) > MAX_INT_BITS:
            raise _TooBig
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Invert):
        operand = _fold(node.operand)
        if operand is None:
            return None
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.Invert):
            return ~operand if isinstance(operand, int) else None
        return operand
    if not isinstance(node, ast.BinOp):
        return None
    left, right = _fold(node.left), _fold(node.right)
    if left is None or right is None:
        return None
    op = node.op
    if isinstance(left, int) and isinstance(right, int):
        if isinstance(op, ast.Pow) and right > 0 and _bits(left) > 1 and right * _bits(left) > MAX_INT_BITS:
            raise _TooBig
        if isinstance(op, ast.LShift) and right > 0 and _bits(left) + right > MAX_INT_BITS:
            raise _TooBig
        if isinstance(op, ast.Mult) and _bits(left) + _bits(right) > MAX_INT_BITS:
            raise _TooBig
    try:
        value = _apply(op, left, right)
    except (ArithmeticError, ValueError, TypeError):
        return None
    if isinstance(value, int) and _bits(value) > MAX_INT_BITS:
        raise _TooBig
    return value


def _apply(op: ast.operator, left: int | float, right: int | float) -> int | float | None:
    if isinstance(op, ast.Add):
        return left + right
    if isinstance(op, ast.Sub):
        return left - right
    if isinstance(op, ast.Mult):
        return left * right
    if isinstance(op, ast.FloorDiv):
        return left // right
    if isinstance(op, ast.Mod):
        return left % right
    if isinstance(op, ast.Div):
        return left / right
    if isinstance(op, ast.Pow):
        if isinstance(left, float) or isinstance(right, float):
            result = left**right
            return result if isinstance(result, float) else None  # a complex result is not a number here
        return left**right if right >= 0 else None
    if isinstance(left, int) and isinstance(right, int):
        if isinstance(op, ast.LShift):
            return left << right
        if isinstance(op, ast.RShift):
            return left >> right
        if isinstance(op, ast.BitOr):
            return left | right
        if isinstance(op, ast.BitAnd):
            return left & right
        if isinstance(op, ast.BitXor):
            return left ^ right
    return None


def constant_int(node: ast.AST) -> int | None:
    """The value of a constant integer expression, or None if it is not one (or is too big to compute)."""
    try:
        value = _fold(node)
    except _TooBig:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _constant(node: ast.AST) -> int | float | None:
    try:
        return _fold(node)
    except _TooBig:
        return None


def _too_big(node: ast.AST) -> bool:
    try:
        _fold(node)
    except _TooBig:
        return True
    return False


_SEQUENCE_NODES = (ast.List, ast.Tuple, ast.ListComp, ast.JoinedStr)
_PADDING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_BIG_MATH = frozenset({"factorial", "comb", "perm"})
_EXPONENT = re.compile(r"[eE]\s*([-+]?\d+)\s*$")


def _length(node: ast.AST) -> int | None:
    """The length of a sequence literal, or None if the node is not one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        return len(node.value)
    if isinstance(node, ast.List | ast.Tuple):
        return len(node.elts)
    if isinstance(node, _SEQUENCE_NODES):
        return 1
    return None


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def size_problems(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Yield (node, message) for what this one node would build past the static bounds."""
    if isinstance(node, ast.BinOp):
        yield from _binop_problems(node)
    elif isinstance(node, ast.Call):
        yield from _call_problems(node)


def _binop_problems(node: ast.BinOp) -> Iterator[tuple[ast.AST, str]]:
    if isinstance(node.op, ast.Pow | ast.LShift) and not isinstance(_constant(node.left), float):
        exponent = constant_int(node.right)
        what = "exponent" if isinstance(node.op, ast.Pow) else "shift"
        if exponent is not None and abs(exponent) > MAX_EXPONENT:
            yield node, f"constant {what} {exponent} is over the bound of {MAX_EXPONENT}"
            return
    if _too_big(node) and not (_too_big(node.left) or _too_big(node.right)):
        yield node, f"this constant expression exceeds {MAX_INT_BITS} bits"
        return
    if isinstance(node.op, ast.Mult):
        for sequence, count in ((node.left, node.right), (node.right, node.left)):
            length, times = _length(sequence), constant_int(count)
            if length is not None and times is not None and length * times > MAX_ITEMS:
                yield node, f"repeating a sequence {times} times builds more than {MAX_ITEMS:,} items"
                return
    if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        template = node.left.value
        if isinstance(template, str | bytes) and (problem := printf_problem(template)) is not None:
            yield node.left, problem


def _call_problems(node: ast.Call) -> Iterator[tuple[ast.AST, str]]:
    name = _callee(node)
    first = node.args[0] if node.args else None
    if name == "pow" and isinstance(node.func, ast.Name) and len(node.args) == 2:
        exponent = constant_int(node.args[1])
        if exponent is not None and abs(exponent) > MAX_EXPONENT:
            yield node, f"constant exponent {exponent} is over the bound of {MAX_EXPONENT}"
    if name in _PADDING_METHODS and isinstance(node.func, ast.Attribute) and first is not None:
        width = constant_int(first)
        if width is not None and width > MAX_ITEMS:
            yield node, f"'.{name}({width})' builds more than {MAX_ITEMS:,} characters"
    if name in _BIG_MATH and first is not None:
        for arg in node.args:
            value = constant_int(arg)
            if value is not None and value > MAX_EXPONENT:
                yield node, f"'{name}' of a constant over {MAX_EXPONENT} is too costly"
                return
    if name in ("Fraction", "Decimal") and isinstance(first, ast.Constant) and isinstance(first.value, str):
        written = _EXPONENT.search(first.value)
        if written is not None and abs(int(written[1][:12])) > MAX_EXPONENT:
            yield first, f"the exponent of {name}({first.value!r}) is over the bound of {MAX_EXPONENT}"
    for keyword in node.keywords:
        if keyword.arg in ("prec", "Emax") and name == "Context":
            value = constant_int(keyword.value)
            if value is not None and abs(value) > MAX_EXPONENT:
                yield keyword.value, f"a decimal context's {keyword.arg} over {MAX_EXPONENT} is too costly"
