"""BFCL's call strings are parsed, never evaluated: a plain call of literals, or a located error."""

from __future__ import annotations

from typing import Any

import pytest

from mcpfactory.bfcl import BFCLError, call_string, parse_call

TOOLS = {"cd": ["folder"], "sort": ["file_name"], "place_order": ["order_type", "symbol", "price", "amount"]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cd(folder='document')", ("cd", {"folder": "document"})),
        ("sort('final_report.pdf')", ("sort", {"file_name": "final_report.pdf"})),
        (
            "place_order('Buy', symbol='AAPL', price=-1.5e2, amount=100)",
            ("place_order", {"order_type": "Buy", "symbol": "AAPL", "price": -150.0, "amount": 100}),
        ),
        ("cd(folder=('a', ['b', {'c': None, 'd': True}]))", ("cd", {"folder": ["a", ["b", {"c": None, "d": True}]]})),
        ('  sort(file_name="it\'s")  ', ("sort", {"file_name": "it's"})),
    ],
)
def test_a_call_of_literals_becomes_a_tool_call(text: str, expected: tuple[str, dict[str, Any]]) -> None:
    assert parse_call(text, TOOLS) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "not a call of a function by its name"),
        ("os.system('true')", "not a call of a function by its name"),
        ("eval('1')", "'eval' is not a tool of the task's environments"),
        ("cd(folder=open('/etc/passwd').read())", "an argument is not a literal"),
        ("cd(folder=(lambda: 'x')())", "an argument is not a literal"),
        ("cd(folder=folder)", "an argument is not a literal"),
        ("cd(*['x'])", "*args are not literals"),
        ("cd(**{'folder': 'x'})", "**kwargs are not literals"),
        ("cd('a', folder='b')", "argument 'folder' given twice"),
        ("cd('a', 'b')", "cd takes 1 argument(s), 2 given by position"),
        ("cd(path='a')", "cd has no parameter 'path'"),
        ("cd(folder={'a', 'b'})", "a set argument JSON cannot hold"),
        ("cd(folder=1j)", "a complex argument JSON cannot hold"),
        ("cd(folder=b'x')", "a bytes argument JSON cannot hold"),
        ("cd(folder=1e999)", "a number JSON cannot hold"),
        ("cd(folder={1: 'x'})", "an object whose keys are not all strings"),
        ("cd(folder='x'", "not a Python call: SyntaxError"),
        ("cd(folder='x'); sort('y')", "not a Python call: SyntaxError"),
        ("[cd(folder='x')]", "not a call of a function by its name"),
    ],
)
def test_anything_else_is_refused_naming_the_call(text: str, message: str) -> None:
    with pytest.raises(BFCLError) as caught:
        parse_call(text, TOOLS, where="t.ground_truth[0][1]")
    assert str(caught.value) == f"t.ground_truth[0][1]: {text[:80]!r}: {message}"
    assert caught.value.where == f"t.ground_truth[0][1]: {text[:80]!r}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cd(folder='" + "x" * 100_000 + "')", "a call is a string of at most 100000 characters"),
        ("cd(folder=" + "[" * 20_000 + "]" * 20_000 + ")", "not a Python call: SyntaxError"),
    ],
)
def test_an_overlong_or_deeply_nested_call_is_refused_not_a_crash(text: str, message: str) -> None:
    with pytest.raises(BFCLError) as caught:
        parse_call(text, TOOLS)
    assert str(caught.value) == f"{text[:80]!r}: {message}"


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("cd", {"folder": "a b"}), ("place_order", {"order_type": "Sell", "symbol": "X", "price": 1.0, "amount": -3})],
)
def test_a_call_written_as_bfcl_writes_it_parses_back(tool: str, arguments: dict[str, Any]) -> None:
    assert parse_call(call_string(tool, arguments), TOOLS) == (tool, arguments)
