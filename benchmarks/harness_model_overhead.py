"""The harness's cost per model call: the litellm policy against a bare `openai` client, on the same fake server.

All three talk to the loopback fake model server (`harness.testing`), which
answers every request with the same tool call:

  openai      `AsyncOpenAI.chat.completions.create` (one client, reused);
  litellm     `litellm.acompletion` with the harness's settings (`max_retries=0`);
  policy      `LiteLLMPolicy.act`: litellm plus building the request from the
              episode view (tools in OpenAI format) and parsing the reply into
              an `AssistantTurn` (tool calls decoded, token data kept).

Each figure is the median over rounds of the mean wall time of a batch of
sequential calls (a model call is I/O: CPU time would miss the server's share).

    python benchmarks/harness_model_overhead.py [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from _common import machine, median

from harness.connection import ToolSpec
from harness.llm import import_litellm
from harness.policies import LiteLLMPolicy, PolicyView
from harness.testing import FakeLLM, Reply
from mcpfactory.runtime import Task

MESSAGES = [
    {"role": "system", "content": "You manage a small ledger of accounts."},
    {"role": "user", "content": "Deposit 50 into account a1."},
]
TOOL = ToolSpec(
    "deposit",
    "Add a positive amount to an account's balance.",
    {
        "type": "object",
        "properties": {"account_id": {"type": "string"}, "amount": {"type": "integer"}},
        "required": ["account_id", "amount"],
    },
)


async def batch(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - started) / calls * 1e3


async def main(calls: int, rounds: int) -> None:
    import openai

    litellm = import_litellm()
    with FakeLLM(lambda _: Reply.call("deposit", account_id="a1", amount=50)) as llm:
        client = openai.AsyncOpenAI(base_url=llm.url, api_key="fake", max_retries=0)
        tools = [TOOL.to_openai()]
        policy = LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake")
        view = PolicyView(
            task=Task(id="t", env="ledger", instruction=MESSAGES[1]["content"]),
            messages=MESSAGES,
            tools=[TOOL],
            turn=0,
            seed=0,
        )

        async def bare() -> Any:
            return await client.chat.completions.create(model="fake", messages=MESSAGES, tools=tools)  # type: ignore[arg-type]

        async def through_litellm() -> Any:
            return await litellm.acompletion(
                model="openai/fake", api_base=llm.url, api_key="fake", messages=MESSAGES, tools=tools, max_retries=0
            )

        async def through_policy() -> Any:
            return await policy.act(view)

        variants = {"openai": bare, "litellm": through_litellm, "policy": through_policy}
        for call in variants.values():  # warm-up: connections, litellm's first-call setup
            await batch(call, 5)
        results: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, call in variants.items():
                results[name].append(await batch(call, calls))
    print(f"# model-call overhead: {machine()}")
    print(f"{'':<10} {'ms/call':>8} {'vs openai':>10}")
    base = median(results["openai"])
    for name, values in results.items():
        print(f"{name:<10} {median(values):>8.2f} {median(values) - base:>+9.2f}")
    print(f"harness on top of litellm: {median(results['policy']) - median(results['litellm']):+.2f} ms/call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    anyio.run(main, args.calls, args.rounds)
