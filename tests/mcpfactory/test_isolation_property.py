"""Property: however calls from several sessions interleave, each session sees only its own writes."""

from __future__ import annotations

from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp.client.client import Client

from tests.mcpfactory.specs import LIBRARY

_calls = st.one_of(
    st.builds(lambda t: ("add_book", {"title": t, "genre": "history"}), st.sampled_from(["A", "B", "C"])),
    st.builds(
        lambda m, b: ("borrow_book", {"member_id": m, "book_id": b}),
        st.sampled_from(["m1", "m2"]),
        st.sampled_from(["b1", "b2", "b3"]),
    ),
    st.builds(lambda t: ("find_book", {"title": t}), st.sampled_from(["Dune", "A", "B"])),
    st.just(("count_books", {"genre": "history"})),
)
_sessions = st.lists(st.lists(_calls, max_size=6), min_size=2, max_size=4)


async def _run(server: Any, plan: list[list[tuple[str, dict[str, Any]]]], order: list[int]) -> list[list[Any]]:
    seen: list[list[Any]] = [[] for _ in plan]
    async with (
        Client(server, mode="legacy") as c0,
        Client(server, mode="legacy") as c1,
        Client(server, mode="legacy") as c2,
        Client(server, mode="legacy") as c3,
    ):
        clients = [c0, c1, c2, c3]
        cursor = [0] * len(plan)
        for who in order:
            if cursor[who] == len(plan[who]):
                continue
            name, arguments = plan[who][cursor[who]]
            cursor[who] += 1
            result = await clients[who].call_tool(name, arguments)
            seen[who].append((result.is_error, result.structured_content))
        for who, calls in enumerate(plan):  # finish what the order did not reach
            for name, arguments in calls[cursor[who] :]:
                result = await clients[who].call_tool(name, arguments)
                seen[who].append((result.is_error, result.structured_content))
    return seen


def test_interleaved_sessions_match_their_solo_runs(compile_package: Any) -> None:
    module = compile_package(LIBRARY, "library_isolation")

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(plan=_sessions, order=st.lists(st.integers(0, 3), max_size=30))
    def check(plan: list[list[tuple[str, dict[str, Any]]]], order: list[int]) -> None:
        order = [who for who in order if who < len(plan)]
        interleaved = anyio.run(_run, module.build(), plan, order)
        solo = [anyio.run(_run, module.build(), [calls], [])[0] for calls in plan]
        assert interleaved == solo

    check()
