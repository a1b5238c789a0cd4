"""Static bounds on what one expression of a body may build, and on the formats it may use.

The server bounds every call's CPU time and memory at run time; this module
refuses, before anything runs, what can be seen to be too big from the source
alone, so that a spec cannot even ask for it:

- integers built from constants (`2 ** 10 ** 9`, `1 << 10 ** 10`) past
  `MAX_INT_BITS` (the most the server's checked power computes), followed by
  size alone past `EXACT_BITS`; a constant exponent or shift past
  `MAX_EXPONENT` when the base is known only at run time (it may be an int);
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
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

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

MAX_INT_BITS = 1_000_000  # what the server's checked power computes at most
EXACT_BITS = 4_096  # past this, the checker follows only the size of a constant
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


@dataclass(frozen=True, slots=True)
class _Big:
    """An integer past `EXACT_BITS`, not computed: only an upper bound on its size is kept."""

    bits: int


_Value = int | float | _Big


def _bits(value: int | _Big) -> int:
    return value.bits if isinstance(value, _Big) else abs(value).bit_length()


def _fold(node: ast.AST) -> _Value | None:
    """The value of a constant numeric expression, or None if it is not one.

    Integers are computed exactly up to `EXACT_BITS`; past that only their size
    is followed, so checking a spec never does the big arithmetic it refuses.
    Raises `_TooBig` when the size would exceed `MAX_INT_BITS`.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Invert):
        operand = _fold(node.operand)
        if operand is None:
            return None
        if isinstance(operand, _Big):
            return _Big(operand.bits + 1)
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
    if isinstance(left, float) or isinstance(right, float):
        if isinstance(left, _Big) or isinstance(right, _Big):
            return None  # a float with a huge integer overflows: nothing to bound here
        return _apply(node.op, left, right)
    bits = _result_bits(node.op, left, right)
    if bits is None:
        return None
    if bits > MAX_INT_BITS:
        raise _TooBig
    if bits > EXACT_BITS or isinstance(left, _Big) or isinstance(right, _Big):
        return _Big(bits)
    return _apply(node.op, left, right)


def _result_bits(op: ast.operator, left: int | _Big, right: int | _Big) -> int | None:
    """An upper bound on the size in bits of `left op right` for integers, or None if it is not an integer."""
    size_left, size_right = _bits(left), _bits(right)
    if isinstance(op, ast.Add | ast.Sub | ast.BitOr | ast.BitXor):
        return max(size_left, size_right) + 1
    if isinstance(op, ast.Mult):
        return size_left + size_right
    if isinstance(op, ast.FloorDiv | ast.RShift | ast.BitAnd):
        return size_left + 1
    if isinstance(op, ast.Mod):
        return size_right
    if isinstance(op, ast.Pow | ast.LShift):
        if isinstance(right, _Big):
            if isinstance(op, ast.Pow) and size_left <= 1:
                return 1  # 0, 1 and -1 to any power
            raise _TooBig
        if right < 0:
            return None  # a negative power is a float, a negative shift an error
        if isinstance(op, ast.LShift):
            return size_left + right
        if size_left <= 1:
            return 1
        per_power = math.log2(abs(left)) if isinstance(left, int) else size_left
        return math.ceil(per_power * right) + 1
    return None  # true division gives a float


def _apply(op: ast.operator, left: int | float, right: int | float) -> int | float | None:
    """`left op right`, for operands already known to be small; None where Python would raise."""
    try:
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
            result = left**right
            return result if isinstance(result, int | float) else None  # (-8) ** 0.5 is complex
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
    except (ArithmeticError, ValueError, TypeError):
        return None
    return None


def constant_int(node: ast.AST) -> int | None:
    """The value of a constant integer expression, or None if it is not one or is too big to compute."""
    value = _constant(node)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_HUGE: int = 1 << EXACT_BITS


def _count(node: ast.AST) -> int | None:
    """A constant integer used as a count: its value, a huge one for an integer too big to compute, or None."""
    value = _constant(node)
    if isinstance(value, _Big) or (value is None and _too_big(node)):
        return _HUGE
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _constant(node: ast.AST) -> _Value | None:
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


def _shown(number: int) -> str:
    return f"{number}" if number < 10**15 else "more than 10**15"


def _binop_problems(node: ast.BinOp) -> Iterator[tuple[ast.AST, str]]:
    if isinstance(node.op, ast.Pow | ast.LShift) and _constant(node.left) is None and not _too_big(node.left):
        # The base is known only at run time (it may be an int): the exponent itself is bounded.
        exponent = _count(node.right)
        what = "exponent" if isinstance(node.op, ast.Pow) else "shift"
        if exponent is not None and abs(exponent) > MAX_EXPONENT:
            yield node, f"constant {what} {_shown(abs(exponent))} is over the bound of {MAX_EXPONENT}"
            return
    if _too_big(node) and not (_too_big(node.left) or _too_big(node.right)):
        yield node, f"this constant expression exceeds {MAX_INT_BITS:,} bits"
        return
    if isinstance(node.op, ast.Mult):
        for sequence, count in ((node.left, node.right), (node.right, node.left)):
            length, times = _length(sequence), _count(count)
            if length is not None and times is not None and length * times > MAX_ITEMS:
                yield node, f"repeating a sequence {_shown(times)} times builds more than {MAX_ITEMS:,} items"
                return
    if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        template = node.left.value
        if isinstance(template, str | bytes) and (problem := printf_problem(template)) is not None:
            yield node.left, problem


def _call_problems(node: ast.Call) -> Iterator[tuple[ast.AST, str]]:
    name = _callee(node)
    first = node.args[0] if node.args else None
    if name == "pow" and isinstance(node.func, ast.Name) and len(node.args) == 2:
        power = ast.BinOp(left=node.args[0], op=ast.Pow(), right=node.args[1])
        yield from ((node, problem) for _, problem in _binop_problems(power))
    if name in _PADDING_METHODS and isinstance(node.func, ast.Attribute) and first is not None:
        width = _count(first)
        if width is not None and width > MAX_ITEMS:
            yield node, f"'.{name}({_shown(width)})' builds more than {MAX_ITEMS:,} characters"
    if name in _BIG_MATH and first is not None:
        for arg in node.args:
            value = _count(arg)
            if value is not None and value > MAX_EXPONENT:
                yield node, f"'{name}' of a constant over {MAX_EXPONENT} is too costly"
                return
    if name in ("Fraction", "Decimal") and isinstance(first, ast.Constant) and isinstance(first.value, str):
        written = _EXPONENT.search(first.value)
        if written is not None and abs(int(written[1][:12])) > MAX_EXPONENT:
            yield first, f"the exponent of {name}({first.value!r}) is over the bound of {MAX_EXPONENT}"
    for keyword in node.keywords:
        if keyword.arg in ("prec", "Emax") and name == "Context":
            value = _count(keyword.value)
            if value is not None and abs(value) > MAX_EXPONENT:
                yield keyword.value, f"a decimal context's {keyword.arg} over {MAX_EXPONENT} is too costly"
