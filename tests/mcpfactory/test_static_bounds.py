"""Static bounds and process-independence rules of bodies (the spec checker): what is refused, what stays allowed.

The hostile cases as whole specs live in tests/redteam/; these pin the rules themselves.
"""

from __future__ import annotations

import pytest

from mcpfactory.spec._bounds import format_spec_problem, printf_problem, strftime_problem
from mcpfactory.spec._restrict import Violation, check_body, check_expression, template_fields
from mcpfactory.spec._text import bad_character, describe_character, visible


@pytest.mark.parametrize("spec", ["", ">10", "08.2f", ",.2f", "_d", ".1%", "x", "^30", "*<1000", "%Y-%m-%d %H:%M:%S"])
def test_ordinary_format_specs_are_allowed(spec: str) -> None:
    assert format_spec_problem(spec) is None


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (">3000000000", "format width 3000000000 is over the bound of 1000"),
        (".1001f", "format precision 1001 is over the bound of 1000"),
        ("n", "format type 'n' follows the machine's locale; use ',' or '_' to group digits"),
        ("%c", "strftime directive '%c' depends on the machine's locale"),
        ("%Y %b", "strftime directive '%b' depends on the machine's locale"),
        ("%s", "strftime directive '%s' depends on the machine's time zone"),
        ("99999999999999999999", "format width 999999999999… is over the bound of 1000"),
    ],
)
def test_format_specs_past_the_bounds_or_tied_to_the_machine_are_refused(spec: str, problem: str) -> None:
    assert format_spec_problem(spec) == problem


def test_strftime_allows_only_portable_directives() -> None:
    assert strftime_problem("%Y-%m-%dT%H:%M:%S.%f%z %j %U %W %w %u %G %V %Z %%") is None
    assert strftime_problem("%-d") == (
        "strftime directive '%-d' is not portable; use %Y %m %d %H %M %S %f %j %U %W %w %u %G %V %z %Z %%"
    )
    assert strftime_problem("100%") is not None


def test_printf_widths_are_bounded() -> None:
    assert printf_problem("%5.2f and %(name)-10s and %%") is None
    assert printf_problem("%0999999999d") == "format width 999999999 is over the bound of 1000"
    assert printf_problem(b"%.5000f") == "format precision 5000 is over the bound of 1000"


BENIGN = {
    "big_but_bounded_constants": "return 2 ** 64 + 10 ** 18 + (1 << 62) + 10 ** 4300 % 7",
    "float_power": "return 1.0001 ** 100000",
    "modular_power": "return pow(2, 10 ** 9, 1_000_003)",
    "repeat_a_little": "return ['-'] * 80 + [0] * 1000",
    "repeat_by_a_parameter": "return 'x' * days",
    "multiply_a_number_by_a_big_constant": "return days * 10 ** 12",
    "padding": "return title.ljust(40) + title.zfill(8)",
    "portable_strftime": "return now().strftime('%Y-%m-%d %H:%M')",
    "strptime_literal": "import datetime\nreturn datetime.datetime.strptime(title, '%Y-%m-%d').isoformat()",
    "fstring_widths": "return f'{days:>10} {days:08.2f} {days:,} {now():%Y-%m-%d}'",
    "nested_width_is_left_to_run_time": "return f'{days:>{days}}'",
    "printf": "return '%5.2f %s' % (days, title)",
    "collection_named_timestamp": "return len(state.timestamp)",
    "aware_datetime_by_replace": "import datetime\nreturn now().replace(tzinfo=datetime.timezone.utc).isoformat()",
    "parameter_shadowing_a_builtin_that_is_not_called": "return [zip, format]",
    "parameter_rebound_then_called": "def zip(*a):\n    return list(a)\nreturn zip(1, 2)",
}


@pytest.mark.parametrize("source", BENIGN.values(), ids=BENIGN.keys())
def test_bounded_and_portable_bodies_are_accepted(source: str) -> None:
    assert check_body(source, params=("title", "days", "zip", "format")) == []


def test_a_rebound_injected_name_is_reported_where_it_is_bound() -> None:
    source = "import collections.abc\nstate = collections.abc.Mapping\nstate.register(str)"
    assert check_body(source) == [
        Violation(2, 1, "'state' is given to every body and may not be rebound", "choose another name", "reserved-name")
    ]


def test_a_fullwidth_spelling_is_the_name_python_reads() -> None:
    [violation] = check_body("\uff53\uff54\uff41\uff54\uff45 = 1")
    assert (violation.code, violation.message) == (
        "reserved-name",
        "'state' is given to every body and may not be rebound",
    )


def test_helpers_may_be_called_but_not_rebound() -> None:
    assert check_body("return price(state, 3)", helpers=["price"]) == []
    [violation] = check_body("price = 3\nreturn price", helpers=["price"])
    assert (violation.code, violation.message) == ("reserved-name", "'price' is a helper and may not be rebound")


def test_an_invariant_may_not_rebind_state() -> None:
    [violation] = check_expression("all(state for state in [1])")
    assert violation.code == "reserved-name"


def test_calling_a_parameter_that_shadows_a_builtin_is_reported_with_the_alias_hint() -> None:
    assert check_body("return zip(title, title)", params=["zip", "title"]) == [
        Violation(
            1,
            8,
            "'zip' is a parameter here, and a parameter cannot be called",
            "it shadows the builtin zip(); rename the parameter and keep 'zip' on the wire with 'alias'",
            "parameter-call",
        )
    ]


def test_a_nonportable_template_placeholder_is_refused() -> None:
    with pytest.raises(ValueError) as caught:
        template_fields("due {when:%c}")
    assert str(caught.value) == "placeholder '{when}': strftime directive '%c' depends on the machine's locale"


def test_control_and_bidi_characters_are_found_and_named() -> None:
    assert bad_character("plain text,\ttabs and\nnewlines, accents é and emoji 🙂") is None
    assert bad_character("abc\u202edef") == 3
    assert describe_character("\u202e") == "U+202E (RIGHT-TO-LEFT OVERRIDE)"
    assert describe_character("\x00") == "U+0000 (NUL)"
    assert visible("a\nb\x1b[31m\u2066") == "a\\nb\\x1b[31m\\u2066"
