"""The static restriction checker for tool bodies and invariant expressions."""

from __future__ import annotations

import builtins
import importlib
import inspect

import pytest

from mcpfactory.spec._restrict import (
    ALLOWED_IMPORTS,
    BODY_NAMES,
    FORBIDDEN_NAMES,
    SAFE_BUILTINS,
    VIOLATION_CODES,
    Violation,
    check_body,
    check_expression,
    template_fields,
)

PARAMS = ("title", "book_id", "member_id", "days", "x")
ERRORS = {
    "not_found": "No book titled {title}.",
    "unknown_member": "No member {member_id}.",
    "unavailable": "No copy of {book_id} is available.",
}


def lines(*text: str) -> str:
    return "\n".join(text)


def codes(violations: list[Violation]) -> set[str]:
    return {v.code for v in violations}


# (id, body, the violation code that must be among those reported)
ESCAPES = [
    ("subclass_walk", "return ().__class__.__bases__[0].__subclasses__()", "underscore"),
    ("object_subclasses", "return object.__subclasses__()", "forbidden-name"),
    ("mro_walk", "return int.mro()[1]", "forbidden-attribute"),
    ("type_of_value", "return type(x).mro()", "forbidden-name"),
    ("type_three_args", "return type('X', (), {})", "forbidden-name"),
    ("getattr_string", "return getattr((), '__class__')", "forbidden-name"),
    ("getattr_concat", "return getattr(x, '__cl' + 'ass__')", "forbidden-name"),
    ("hasattr_probe", "return hasattr(x, '__globals__')", "forbidden-name"),
    ("setattr_write", "setattr(x, 'y', 1)", "forbidden-name"),
    ("delattr_write", "delattr(x, 'y')", "forbidden-name"),
    ("format_attribute_walk", "return '{0.__class__}'.format(x)", "format"),
    ("format_map_globals", "return '{x.__globals__}'.format_map({'x': now})", "format"),
    ("format_index_walk", "return '{0.__init__.__globals__[os]}'.format(x)", "format"),
    ("format_nested_spec_walk", "return '{0:{1.__class__}}'.format(x, x)", "format"),
    ("format_variable_template", "template = title\nreturn template.format(x=state)", "format"),
    ("format_unbound_method", "return str.format('{0.__class__}', 1)", "format"),
    ("format_fstring_receiver", "return f'{title}'.format(x)", "format"),
    ("format_builtin_dynamic_spec", "return format(x, title)", "format"),
    ("format_builtin_alias", "f = format\nreturn f(x)", "format"),
    ("generator_frame", "return (y for y in []).gi_frame.f_back.f_globals", "forbidden-attribute"),
    ("generator_code", "g = (y for y in [])\nreturn g.gi_code.co_consts", "forbidden-attribute"),
    ("frame_locals", "return x.f_locals", "forbidden-attribute"),
    (
        "traceback_frame",
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    return e.__traceback__.tb_frame.f_globals",
        "underscore",
    ),
    ("traceback_frame_by_param", "def f(tb):\n    return tb.tb_frame.f_back\nreturn f(x)", "forbidden-attribute"),
    ("function_globals", "def f():\n    pass\nreturn f.__globals__", "underscore"),
    ("injected_function_globals", "return now.__globals__['__builtins__']", "underscore"),
    ("lambda_default_globals", "return (lambda g=now.__globals__: g)()", "construct"),
    ("lambda_default_capture", "return (lambda f=state: f)()", "construct"),
    ("builtins_name", "return __builtins__['eval']('1')", "underscore"),
    ("dunder_import", "return __import__('os').system('id')", "forbidden-name"),
    ("private_attribute", "return state._store", "underscore"),
    ("private_name", "_secret = 1", "underscore"),
    ("dunder_import_alias", "import math as __builtins__", "underscore"),
    ("from_import_dunder", "from math import __loader__", "underscore"),
    ("import_os", "import os\nos.system('id')", "import"),
    ("import_os_path", "import os.path", "import"),
    ("from_os_import", "from os import system", "import"),
    ("import_subprocess", "import subprocess", "import"),
    ("import_sys", "import sys", "import"),
    ("import_importlib", "import importlib", "import"),
    ("import_ctypes", "import ctypes", "import"),
    ("import_pickle", "import pickle", "import"),
    ("import_builtins", "import builtins", "import"),
    ("import_random", "import random", "import"),
    ("import_time", "import time\nreturn time.time()", "import"),
    ("import_operator_attrgetter", "import operator\nreturn operator.attrgetter('__class__')(x)", "import"),
    ("import_codecs", "import codecs", "import"),
    ("import_future", "from __future__ import annotations", "import"),
    ("import_submodule_of_allowed", "import json.tool", "import"),
    ("relative_import", "from . import runtime", "import"),
    ("star_import", "from math import *", "import"),
    ("exec_call", "exec('import os')", "forbidden-name"),
    ("eval_call", "return eval('1 + 1')", "forbidden-name"),
    ("compile_call", "return compile('1', 'f', 'eval')", "forbidden-name"),
    ("open_passwd", "return open('/etc/passwd').read()", "forbidden-name"),
    ("vars_call", "return vars()", "forbidden-name"),
    ("globals_call", "return globals()['__builtins__']", "forbidden-name"),
    ("locals_call", "return locals()", "forbidden-name"),
    ("dir_call", "return dir(x)", "forbidden-name"),
    ("id_call", "return id(x)", "forbidden-name"),
    ("super_call", "return super()", "forbidden-name"),
    ("memoryview_call", "return memoryview(b'x')", "forbidden-name"),
    ("breakpoint_call", "breakpoint()", "forbidden-name"),
    ("print_call", "print(x)", "forbidden-name"),
    ("input_call", "return input()", "forbidden-name"),
    ("exit_call", "exit()", "forbidden-name"),
    ("forbidden_name_as_value", "f = eval\nreturn f('1')", "forbidden-name"),
    ("forbidden_name_rebound", "eval = len", "forbidden-name"),
    ("forbidden_name_walrus", "return (getattr := len)", "forbidden-name"),
    ("forbidden_name_def", "def type():\n    pass", "forbidden-name"),
    ("class_with_metaclass", "class X(metaclass=M):\n    pass", "construct"),
    ("class_plain", "class X:\n    y = 1", "construct"),
    ("decorator", "import functools\n@functools.lru_cache\ndef f():\n    return 1\nreturn f()", "construct"),
    ("global_statement", "global state\nstate = None", "construct"),
    ("nonlocal_statement", "def f():\n    nonlocal x\n    x = 1", "construct"),
    ("async_def_await", "async def f():\n    await f()", "construct"),
    ("async_for", "async def f():\n    async for y in x:\n        pass", "construct"),
    ("yield_statement", "yield 1", "construct"),
    ("yield_from", "def g():\n    yield from x\nreturn list(g())", "construct"),
    ("with_statement", "with x:\n    pass", "construct"),
    ("datetime_now", "import datetime\nreturn datetime.datetime.now()", "wall-clock"),
    ("date_today", "from datetime import date\nreturn date.today()", "wall-clock"),
    ("utcnow_alias", "import datetime\nclock = datetime.datetime.utcnow\nreturn clock()", "wall-clock"),
    ("fromtimestamp", "from datetime import datetime\nreturn datetime.fromtimestamp(0)", "wall-clock"),
    ("now_on_injected_clock", "return now().now()", "wall-clock"),
    (
        "string_formatter_get_field",
        "import string\nreturn string.Formatter().get_field('0.__class__', [x], {})",
        "forbidden-attribute",
    ),
    ("from_string_import_formatter", "from string import Formatter", "forbidden-attribute"),
    ("decimal_getcontext", "import decimal\ndecimal.getcontext().prec = 2", "forbidden-attribute"),
    ("decimal_setcontext", "from decimal import setcontext", "forbidden-attribute"),
    ("decimal_localcontext", "import decimal\nreturn decimal.localcontext()", "forbidden-attribute"),
    ("decimal_default_context", "import decimal\nreturn decimal.DefaultContext", "forbidden-attribute"),
    (
        "functools_update_wrapper",
        "import functools\ndef w():\n    pass\nfunctools.update_wrapper(w, now, assigned=(), updated=('__globals__',))",
        "forbidden-attribute",
    ),
    ("functools_wraps", "from functools import wraps", "forbidden-attribute"),
    ("copy_dispatch_table", "import copy\ncopy.dispatch_table[int] = len", "forbidden-attribute"),
    ("abc_register", "import collections.abc\ncollections.abc.Mapping.register(list)", "forbidden-attribute"),
    ("abc_register_alias", "from collections import UserDict\nreturn UserDict.register(list)", "forbidden-attribute"),
    ("unseeded_samples", "from statistics import NormalDist\nreturn NormalDist().samples(3)", "forbidden-attribute"),
    ("statistics_sys", "import statistics\nreturn statistics.sys.modules['os']", "forbidden-attribute"),
    ("statistics_random", "import statistics\nreturn statistics.random.random()", "forbidden-attribute"),
    ("from_statistics_import_sys", "from statistics import sys", "forbidden-attribute"),
    ("fractions_operator", "import fractions\nreturn fractions.operator.attrgetter('y')(x)", "forbidden-attribute"),
    ("json_codecs", "import json\nreturn json.codecs.open('/etc/passwd').read()", "forbidden-attribute"),
    ("json_submodule", "from json import decoder", "forbidden-attribute"),
    ("re_enum_sys", "import re\nreturn re.enum.sys.modules", "forbidden-attribute"),
    ("datetime_sys", "import datetime\nreturn datetime.sys.modules['os']", "forbidden-attribute"),
    ("module_alias", "import statistics\nm = statistics\nreturn m", "module-use"),
    ("module_as_argument", "import json\nreturn [json]", "module-use"),
    ("submodule_alias", "import collections\nabc = collections.abc\nreturn abc", "module-use"),
    ("unbound_dict_update", "dict.update(state.books['b1'], copies=0)", "forbidden-attribute"),
    ("unbound_list_append", "list.append(state.members['m1']['loans'], 'b1')", "forbidden-attribute"),
    (
        "unbound_counter_clear",
        "import collections\ncollections.Counter.clear(state.books['b1'])",
        "forbidden-attribute",
    ),
    (
        "unbound_defaultdict_pop",
        "from collections import defaultdict\ndefaultdict.pop(x, 'copies')",
        "forbidden-attribute",
    ),
    ("monkeypatch_module", "import json\njson.dumps = len", "attribute-assignment"),
    ("monkeypatch_class", "from collections import Counter\nCounter.most_common = len", "attribute-assignment"),
    ("monkeypatch_tool_error", "ToolError.code = 'x'", "attribute-assignment"),
    ("delete_attribute", "del state.books", "attribute-assignment"),
    (
        "sibling_scope_global",
        "def a():\n    codecs = 1\ndef b():\n    return codecs.open('/etc/passwd')\nreturn b()",
        "unknown-name",
    ),
    ("server_module_global", "return random.random()", "unknown-name"),
    ("comprehension_var_outside", "ys = [y for y in x]\nreturn y", "unknown-name"),
    ("match_class_attribute", "match x:\n    case int(__class__=c):\n        return c", "underscore"),
    ("match_class_frame", "match x:\n    case int(gi_frame=f):\n        return f", "forbidden-attribute"),
    ("bare_except", "try:\n    pass\nexcept:\n    pass", "except"),
    ("except_base_exception", "try:\n    pass\nexcept BaseException:\n    pass", "except"),
    ("except_exception_in_tuple", "try:\n    pass\nexcept (KeyError, Exception):\n    pass", "except"),
    ("raise_exception", "raise Exception('x')", "forbidden-name"),
    ("form_feed_dedent", "pass\n\x0cimport os", "syntax"),
    ("null_byte", "x = 1\0", "syntax"),
    ("huge_body", "x = 1\n" * 4000, "size"),
    ("deep_nesting", "return " + "[" * 41 + "]" * 41, "size"),
    ("deep_parser_recursion", "return " + "-" * 5000 + "1", "size"),
]


@pytest.mark.parametrize(("source", "code"), [pytest.param(s, c, id=i) for i, s, c in ESCAPES])
def test_sandbox_escape_is_rejected(source: str, code: str) -> None:
    violations = check_body(source, params=PARAMS, error_templates=ERRORS)
    assert violations
    assert code in codes(violations), violations
    assert codes(violations) <= VIOLATION_CODES


def test_the_escape_corpus_is_large_and_has_unique_ids() -> None:
    ids = [i for i, _, _ in ESCAPES]
    assert len(ids) >= 30
    assert len(set(ids)) == len(ids)


EXPRESSION_ESCAPES = [
    ("subclass_walk", "[c for c in ().__class__.__base__.__subclasses__()]", "underscore"),
    ("dunder_import", "__import__('os')", "forbidden-name"),
    ("eval", "eval('1')", "forbidden-name"),
    ("lambda_globals", "(lambda: 1).__globals__", "underscore"),
    ("generator_frame", "(y for y in ()).gi_frame", "forbidden-attribute"),
    ("format_walk", "'{0.__class__}'.format(state)", "format"),
    ("rng_in_invariant", "rng.random() < 2", "unknown-name"),
    ("now_in_invariant", "now() is not None", "unknown-name"),
    ("tool_error_in_invariant", "ToolError('x')", "unknown-name"),
    ("statement", "import os", "syntax"),
    ("yield_in_expression", "(yield)", "construct"),
    ("await_in_expression", "await state", "construct"),
]


@pytest.mark.parametrize(("source", "code"), [pytest.param(s, c, id=i) for i, s, c in EXPRESSION_ESCAPES])
def test_expression_escape_is_rejected(source: str, code: str) -> None:
    violations = check_expression(source)
    assert code in codes(violations), violations


BENIGN_BODIES = [
    (
        "find_book",
        lines(
            "for book in state.books.values():",
            "    if book['title'] == title:",
            "        return book",
            "raise ToolError('not_found', title=title)",
        ),
    ),
    (
        "borrow_book",
        lines(
            "member = state.members.get(member_id)",
            "if member is None:",
            "    raise ToolError('unknown_member', member_id=member_id)",
            "book = state.books.edit(book_id)",
            "if book['copies'] < 1:",
            "    raise ToolError('unavailable', book_id=book_id)",
            "book['copies'] -= 1",
            "member = state.members.edit(member_id)",
            "member['loans'].append(book_id)",
            "return member",
        ),
    ),
    ("sorted_lambda_key", "return sorted(state.books.values(), key=lambda b: (b['title'], -b['copies']))"),
    (
        "datetime_arithmetic",
        lines(
            "import datetime",
            "due = now() + datetime.timedelta(days=days)",
            "return {'due': due.isoformat(), 'weekday': due.weekday()}",
        ),
    ),
    (
        "from_datetime_import",
        lines(
            "from datetime import datetime, timedelta",
            "return (now() - datetime(2024, 1, 1)) // timedelta(days=1)",
        ),
    ),
    ("rng_choice", "return rng.choice(sorted(state.books))"),
    ("rng_sample", "picks = rng.sample(list(state.books.keys()), k=2)\nrng.shuffle(picks)\nreturn picks"),
    ("re_match", "import re\nm = re.fullmatch(r'(?P<n>[a-z]+)-\\d+', title)\nreturn m.group('n') if m else None"),
    ("f_strings", "n = len(state.books)\nreturn f'{title!r} is one of {n:>4} books ({n / 3:.2f})'"),
    (
        "try_except_key_error",
        lines(
            "try:",
            "    book = state.books[book_id]",
            "except KeyError:",
            "    raise ToolError('not_found', title=book_id) from None",
            "return book",
        ),
    ),
    (
        "except_tool_error",
        lines(
            "try:",
            "    raise ToolError('not_found', title=title)",
            "except (ToolError, ValueError) as exc:",
            "    return str(exc)",
        ),
    ),
    ("try_finally", "total = 0\ntry:\n    total = int(title)\nfinally:\n    total += 1\nreturn total"),
    ("raise_value_error", "if days < 0:\n    raise ValueError('negative')\nreturn days"),
    ("literal_format", "return '{} of {}: {name!r:>{width}}'.format(1, 2, name=title, width=10)"),
    ("literal_format_map", "return '{title}'.format_map({'title': title})"),
    ("format_builtin_literal_spec", "return format(days, '>5') + format(days)"),
    (
        "insert_and_delete",
        lines(
            "state.books[book_id] = {'book_id': book_id, 'title': title, 'copies': 1}",
            "del state.books['b1']",
        ),
    ),
    ("edit_record", "book = state.books.edit(book_id)\nbook['title'] = title.strip().title()\nreturn book"),
    ("json_roundtrip", "import json\nreturn json.loads(json.dumps({'a': [1, 2]}, sort_keys=True))"),
    (
        "counter",
        lines(
            "from collections import Counter",
            "return Counter(b['genre'] for b in state.books.values()).most_common(2)",
        ),
    ),
    (
        "defaultdict",
        lines(
            "import collections",
            "by = collections.defaultdict(list)",
            "for k, b in state.books.items():",
            "    by[b['genre']].append(k)",
            "return dict(by)",
        ),
    ),
    ("abc_isinstance", "import collections.abc\nreturn isinstance(x, collections.abc.Mapping)"),
    ("abc_from_import", "from collections import abc\nreturn isinstance(x, abc.Sequence)"),
    ("statistics_math", "import math, statistics\nreturn math.floor(statistics.mean([1, 2, 4]) * 100) / 100"),
    (
        "decimal_quantize",
        lines(
            "from decimal import Decimal, ROUND_HALF_UP",
            "return str(Decimal('1.005').quantize(Decimal('0.01'), rounding=ROUND_HALF_UP))",
        ),
    ),
    (
        "decimal_own_context",
        lines(
            "import decimal",
            "ctx = decimal.Context(prec=4)",
            "return str(ctx.divide(decimal.Decimal(1), decimal.Decimal(3)))",
        ),
    ),
    ("fractions", "from fractions import Fraction\nreturn float(Fraction(1, 3) + Fraction(1, 6))"),
    (
        "itertools_functools",
        lines(
            "import functools, itertools",
            "return functools.reduce(lambda a, b: a + b, itertools.islice(itertools.count(), 5))",
        ),
    ),
    (
        "functools_partial_and_cache",
        lines(
            "import functools",
            "add = functools.partial(max, 0)",
            "sq = functools.lru_cache(maxsize=None)(lambda n: n * n)",
            "return add(sq(3))",
        ),
    ),
    ("copy_record", "import copy\nreturn copy.deepcopy(state.books[book_id])"),
    ("string_constants", "import string\nreturn all(c in string.ascii_lowercase for c in title)"),
    (
        "string_template",
        lines(
            "from string import Template",
            "return Template('$who likes $what').substitute(who=title, what='tea')",
        ),
    ),
    (
        "nested_function_closure",
        lines(
            "def score(book, weight=2):",
            "    return book['copies'] * weight + len(title)",
            "return max(state.books.values(), key=score)",
        ),
    ),
    (
        "comprehensions",
        lines(
            "genres = {b['genre'] for b in state.books.values()}",
            "return {g: [b for b in state.books.values() if b['genre'] == g] for g in genres}",
        ),
    ),
    (
        "walrus",
        lines(
            "if (n := len(state.books)) > 3:",
            "    return n",
            "return [y for b in state.books.values() if (y := b['copies'])]",
        ),
    ),
    (
        "match_statement",
        lines(
            "match x:",
            "    case {'kind': 'book', 'id': str(ident)}:",
            "        return ident",
            "    case [first, *rest]:",
            "        return first",
            "    case _:",
            "        return None",
        ),
    ),
    ("throwaway_underscore", "for _ in range(3):\n    rng.random()\nreturn [0 for _ in range(2)]"),
    ("while_assert", "n = 0\nwhile n < days:\n    n += 1\nassert n == days\nreturn n"),
    ("parameter_named_like_a_builtin", "return [type, id]"),
    ("collection_named_register", "return len(state.register)"),
    ("injected_names", "return [str(now()), rng.random(), state, ToolError]"),
    ("class_methods_that_do_not_mutate", "return dict.fromkeys(sorted(x, key=str.lower), 0)"),
    ("bound_mutators", "c = {}\nc.update(a=1)\nc.setdefault('b', [])\nc['b'].append(1)\nreturn c.pop('a')"),
    ("del_local", "y = 1\ndel y\nreturn None"),
    ("chained_arithmetic", "return " + " + ".join(["1"] * 100)),
    ("windows_newlines", "x = 1\r\nreturn x\r\n"),
    ("leading_indentation", "    y = 1\n    return y"),
]


@pytest.mark.parametrize("source", [pytest.param(s, id=i) for i, s in BENIGN_BODIES])
def test_realistic_body_is_accepted(source: str) -> None:
    assert check_body(source, params=(*PARAMS, "type", "id"), error_templates=ERRORS) == []


@pytest.mark.parametrize(
    "source",
    [
        'all(book["copies"] >= 0 for book in state.books.values())',
        "len(state.loans) <= 3 * len(state.members)",
        "all(len(m['loans']) <= 3 for m in state.members.values())",
        "sorted(state.books, key=lambda k: state.books[k]['title']) is not None",
        "any((n := len(m['loans'])) > 3 for m in state.members.values()) or True",
        "{b['genre'] for b in state.books.values()} <= {'fiction', 'science', 'history'}",
    ],
)
def test_realistic_invariant_is_accepted(source: str) -> None:
    assert check_expression(source) == []


# -- positions, messages and hints ------------------------------------------


def test_unknown_name_points_at_the_name_and_suggests_a_parameter() -> None:
    assert check_body("x = 1\nreturn titel", params=["title"]) == [
        Violation(2, 8, "unknown name 'titel'", "did you mean 'title'?", "unknown-name")
    ]


def test_misspelled_local_suggests_the_local() -> None:
    violations = check_body(
        "total_copies = 0\nfor b in state.books.values():\n    total_copies += b['copies']\nreturn totl_copies"
    )
    assert [v.hint for v in violations] == ["did you mean 'total_copies'?"]


def test_misspelled_builtin_suggests_the_builtin() -> None:
    assert [v.hint for v in check_body("return sortd(state.books)")] == ["did you mean 'sorted'?"]


def test_attribute_violation_points_at_the_attribute_name() -> None:
    source = "books = state.books\nfor b in books.values():\n    y = b.__class__"
    assert check_body(source) == [
        Violation(3, 11, "attribute '__class__' starts with an underscore", None, "underscore")
    ]


def test_each_step_of_an_attribute_walk_is_reported_in_order() -> None:
    violations = check_body("return ().__class__.__bases__")
    assert [(v.line, v.col, v.code) for v in violations] == [(1, 11, "underscore"), (1, 21, "underscore")]


def test_forbidden_call_has_a_specific_message_and_hint() -> None:
    assert check_body("return getattr(state, 'books')") == [
        Violation(
            1,
            8,
            "call to 'getattr' is not allowed",
            "use attribute syntax (x.name), or subscripts for records (record['field'])",
            "forbidden-name",
        )
    ]


def test_columns_count_characters_not_bytes() -> None:
    assert check_body("s = 'éé'; eval(s)") == [
        Violation(1, 11, "call to 'eval' is not allowed", "bodies cannot run dynamic code", "forbidden-name")
    ]


def test_syntax_error_maps_back_to_the_body() -> None:
    assert check_body("x = (1,\n2 +)") == [Violation(2, 4, "syntax error: invalid syntax", None, "syntax")]


def test_syntax_error_in_an_expression_keeps_its_position() -> None:
    [violation] = check_expression("state.books and (")
    assert (violation.line, violation.code) == (1, "syntax")
    assert violation.message.startswith("syntax error: ")


def test_compile_time_error_is_reported_as_a_syntax_error() -> None:
    assert check_body("x = 1\nbreak") == [Violation(2, 1, "syntax error: 'break' outside loop", None, "syntax")]


def test_empty_body_is_a_syntax_error() -> None:
    assert codes(check_body("")) == {"syntax"}


def test_random_import_hints_at_rng() -> None:
    assert check_body("import random") == [
        Violation(
            1,
            8,
            "import of 'random' is not allowed",
            "use rng (the session's random.Random) instead of the random module",
            "import",
        )
    ]


def test_wall_clock_hints_at_now() -> None:
    assert check_body("import datetime\nreturn datetime.date.today()") == [
        Violation(2, 22, "'.today' reads the wall clock", "use now(), the environment's clock", "wall-clock")
    ]


def test_module_attribute_typo_gets_a_suggestion() -> None:
    assert check_body("import math\nreturn math.sqr(2)") == [
        Violation(2, 13, "module 'math' has no attribute 'sqr'", "did you mean 'sqrt'?", "unknown-attribute")
    ]


def test_from_import_typo_gets_a_suggestion() -> None:
    [violation] = check_body("from collections import Countr")
    assert (violation.code, violation.hint) == ("unknown-attribute", "did you mean 'Counter'?")


def test_invariant_using_a_body_name_is_told_what_it_can_use() -> None:
    assert check_expression("state.books and rng.random()") == [
        Violation(
            1, 17, "unknown name 'rng'", "invariant checks can only use state and the safe builtins", "unknown-name"
        )
    ]


def test_violations_come_back_sorted_by_position() -> None:
    violations = check_body("y = eval('1')\nx = open('f')\nreturn y.__class__")
    assert [(v.line, v.col) for v in violations] == sorted((v.line, v.col) for v in violations)
    assert len(violations) == 3


# -- ToolError ----------------------------------------------------------------


def test_unknown_error_code_suggests_a_declared_one() -> None:
    assert check_body("raise ToolError('not_fund', title=title)", params=["title"], error_templates=ERRORS) == [
        Violation(
            1,
            17,
            "unknown error code 'not_fund'",
            "did you mean 'not_found'? declared codes: 'not_found', 'unknown_member', 'unavailable'",
            "error-code",
        )
    ]


def test_error_code_is_only_checked_against_templates_when_given() -> None:
    assert check_body("raise ToolError('anything', a=1)") == []


def test_error_code_must_be_a_literal() -> None:
    [violation] = check_body("code = 'not_found'\nraise ToolError(code, title='x')", error_templates=ERRORS)
    assert (violation.line, violation.col, violation.code) == (2, 17, "error-code")


def test_error_without_any_declared_codes_says_to_declare_it() -> None:
    [violation] = check_body("raise ToolError('gone')", error_templates={})
    assert violation.hint == "declare it under the tool's 'errors:'"


def test_missing_template_field_is_reported_at_the_call() -> None:
    assert check_body("raise ToolError('not_found')", error_templates=ERRORS) == [
        Violation(
            1, 7, "error 'not_found' needs field(s) 'title'", "its message is 'No book titled {title}.'", "error-code"
        )
    ]


def test_misspelled_template_field_suggests_the_missing_one() -> None:
    violations = check_body("raise ToolError('not_found', titel='x')", error_templates=ERRORS)
    assert [(v.message, v.hint) for v in violations] == [
        ("error 'not_found' needs field(s) 'title'", "its message is 'No book titled {title}.'"),
        ("error 'not_found' has no field 'titel'", "did you mean 'title'?"),
    ]


def test_positional_and_star_fields_are_rejected() -> None:
    violations = check_body("raise ToolError('not_found', title)\n", params=["title"], error_templates=ERRORS)
    assert "ToolError takes its fields as keyword arguments" in [v.message for v in violations]
    violations = check_body("raise ToolError('not_found', **x)", params=["x"], error_templates=ERRORS)
    assert "ToolError fields must be given as name=value, not **mapping" in [v.message for v in violations]


def test_tool_error_cannot_be_shadowed() -> None:
    assert check_body("def ToolError(*a):\n    return a\nreturn ToolError(1, 2)", error_templates=ERRORS) == [
        Violation(
            1, 1, "'ToolError' is given to every body and may not be rebound", "choose another name", "reserved-name"
        )
    ]


# -- template_fields ----------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        ("No book titled {title}.", ["title"]),
        ("{a} and {b}, again {a}", ["a", "b"]),
        ("{{literal braces}} around {x}", ["x"]),
        ("no placeholders", []),
        ("{count:>5} copies", ["count"]),
        ("", []),
    ],
)
def test_template_fields_lists_plain_placeholders(template: str, fields: list[str]) -> None:
    assert template_fields(template) == fields


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{x.__class__}", "placeholder '{x.__class__}' is not a plain name (no attribute or index access)"),
        ("{x[0]}", "placeholder '{x[0]}' is not a plain name (no attribute or index access)"),
        ("{class}", "placeholder '{class}' is not a plain name (no attribute or index access)"),
        ("{0}", "placeholder '{0}' is positional; name it, e.g. '{title}'"),
        ("{}", "placeholder '{}' is positional; name it, e.g. '{title}'"),
        ("{x!r}", "placeholder '{x!r}' uses a conversion; write '{x}'"),
        ("{x:{width}}", "placeholder '{x}' nests a field in its format spec"),
        ("unclosed {x", "malformed template: expected '}' before end of string"),
        ("stray } brace", "malformed template: Single '}' encountered in format string"),
    ],
)
def test_template_fields_rejects_anything_but_plain_names(template: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        template_fields(template)
    assert str(caught.value) == problem


# -- the tables themselves ------------------------------------------------------


def test_safe_builtins_are_real_builtins_and_none_is_forbidden() -> None:
    assert all(hasattr(builtins, name) for name in SAFE_BUILTINS)
    assert not SAFE_BUILTINS & set(FORBIDDEN_NAMES)
    assert not BODY_NAMES & SAFE_BUILTINS
    assert {"getattr", "hasattr", "type", "object", "vars", "eval", "exec", "open", "__import__"} <= set(
        FORBIDDEN_NAMES
    )
    assert "hash" not in SAFE_BUILTINS


def test_every_allowed_module_can_be_imported() -> None:
    for module in sorted(ALLOWED_IMPORTS):
        assert check_body(f"import {module}") == [], module
        assert check_body(f"import {module} as m") == [], module


def test_no_public_attribute_of_an_allowed_module_reaches_another_module() -> None:
    for name in sorted(ALLOWED_IMPORTS | {"collections.abc"}):
        module = importlib.import_module(name)
        for attr in dir(module):
            if attr.startswith("_"):
                continue
            violations = check_body(f"import {name}\nreturn {name}.{attr}.real")
            value = getattr(module, attr)
            if inspect.ismodule(value) and value.__name__ not in ALLOWED_IMPORTS | {"collections.abc"}:
                assert "forbidden-attribute" in codes(violations), f"{name}.{attr}"


# A handle on a container class reaches its unbound methods, which mutate read-only records in place.
CONTAINER_ALIASES = {
    "alias_dict": 'f = dict\nf.update(state.books["b1"], copies=0)\nreturn 1',
    "alias_list": 'g = list\ng.append(state.members["m1"]["loans"], "x")\nreturn 1',
    "max_of_classes": 'cls = max(list, list)\ncls.append(state.members["m1"]["loans"], "x")\nreturn 1',
    "defaultdict_factory": "import collections\nd = collections.defaultdict(list)\nreturn d.default_factory",
    "counter_class": 'import collections\nc = collections.Counter\nc.update(state.books["b1"], {"a": 1})\nreturn 1',
    "class_in_a_list": "classes = [dict, set]\nreturn len(classes)",
}


@pytest.mark.parametrize("source", CONTAINER_ALIASES.values(), ids=CONTAINER_ALIASES.keys())
def test_container_class_handles_are_rejected(source: str) -> None:
    codes = {v.code for v in check_body(source)}
    assert codes & {"container-type", "forbidden-attribute"}


def test_container_classes_may_be_called_or_used_in_isinstance() -> None:
    source = (
        "import collections\n"
        "counts = collections.Counter(b['genre'] for b in state.books.values())\n"
        "if isinstance(counts, (dict, list)) and isinstance(counts, dict):\n"
        "    return dict(counts)\n"
        "return list(set(counts))"
    )
    assert check_body(source) == []


def test_raise_inside_except_must_say_from() -> None:
    source = 'try:\n    x = int("a")\nexcept ValueError:\n    raise ToolError("bad")\nreturn x'
    assert [v.code for v in check_body(source)] == ["raise-from"]
    assert check_body(source.replace('("bad")', '("bad") from None')) == []


def test_annotations_may_name_the_spec_types_only() -> None:
    good = "nights: list[Night] = []\ntotal: float | None = None\nreturn nights"
    assert check_body(good, type_names={"Night"}) == []
    bad = check_body("x: Nigth = {}\ny: f(1) = 2\nreturn x", type_names={"Night"})
    assert [(v.code, v.hint) for v in bad] == [
        ("annotation", "did you mean 'Night'?"),
        ("annotation", None),
        ("annotation", None),
    ]
