"""What BFCL tasks need of the harness: tools held back until a turn, and tool wording from elsewhere.

No bfcl-eval needed: the tasks are written here over the catalog's bfcl_math.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.connection import open_endpoint
from harness.conversation import AssistantTurn, ToolCall
from harness.descriptions import ToolText, load_tool_descriptions
from harness.env import EpisodeConfig, TaskEnv
from harness.errors import HarnessError
from mcpfactory.cli import main
from mcpfactory.runtime import parse_task
from tests.conftest import CATALOG

TASK = parse_task(
    {
        "id": "held-back",
        "env": "bfcl_math",
        "instruction": "A mean, then a logarithm once the tool is offered.",
        "user_scenario": {"opening": "The mean of 1 and 3?", "turns": ["Now log base 10 of 100."]},
        "solution": [
            {"tool": "mean", "arguments": {"numbers": [1.0, 3.0]}},
            {"tool": "logarithm", "arguments": {"value": 100.0, "base": 10.0, "precision": 4}, "turn": 1},
        ],
        "tools_from_turn": {"logarithm": 1},
        "judge": {"kind": "turns", "view": "bfcl"},
    }
)


def _call(name: str, arguments: dict[str, Any]) -> AssistantTurn:
    return AssistantTurn(tool_calls=(ToolCall.make("c", name, arguments),))


async def test_a_tool_held_back_until_a_later_turn_is_not_offered_but_a_call_to_it_still_runs() -> None:
    async with open_endpoint("bfcl_math", catalog=CATALOG) as math, TaskEnv(math, TASK) as env:
        observation = await env.reset()
        assert "logarithm" not in {tool.name for tool in observation.tools}
        step = await env.step(_call("logarithm", {"value": 100.0, "base": 10.0, "precision": 4}))
        assert [(c["tool"], c["malformed"], c["is_error"]) for c in env.calls] == [("logarithm", None, False)]
        assert step.messages[-1]["content"] == env.calls[0]["text"]
        step = await env.step(AssistantTurn(content="Done."))
        assert step.messages[-1] == {"role": "user", "content": "Now log base 10 of 100."}
        assert "logarithm" in {tool.name for tool in step.tools}


async def test_tool_descriptions_replace_what_the_model_reads_and_nothing_else() -> None:
    texts = {"mean": ToolText("Average them.", {"numbers": "What to average."}), "not_a_tool": ToolText("Unused.")}
    async with open_endpoint("bfcl_math", catalog=CATALOG) as math:
        async with TaskEnv(math, TASK) as plain:
            before = {tool.name: tool for tool in (await plain.reset()).tools}
        async with TaskEnv(math, TASK, config=EpisodeConfig(tool_descriptions=texts)) as env:
            after = {tool.name: tool for tool in (await env.reset()).tools}
    mean = after["mean"]
    assert (mean.description, mean.input_schema["properties"]["numbers"]["description"]) == (
        "Average them.",
        "What to average.",
    )
    strip = {**mean.input_schema, "properties": {"numbers": {**mean.input_schema["properties"]["numbers"]}}}
    strip["properties"]["numbers"]["description"] = before["mean"].input_schema["properties"]["numbers"]["description"]
    assert strip == before["mean"].input_schema
    assert {name: tool for name, tool in after.items() if name != "mean"} == {
        name: tool for name, tool in before.items() if name != "mean"
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "an object {tool: {description, parameters}}"),
        ('{"cd": "Change directory."}', "cd: an object with 'description' and optionally 'parameters'"),
        ('{"cd": {"description": ""}}', "cd.description: a non-empty string"),
        (
            '{"cd": {"description": "Go.", "parameters": {"folder": 1}}}',
            "cd.parameters: an object {parameter: description}",
        ),
        ('{"cd": {"description": "Go.", "extra": 1}}', "cd: an object with 'description' and optionally 'parameters'"),
        ("{", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ],
)
def test_a_bad_descriptions_file_is_refused_naming_the_entry(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "texts.json"
    path.write_text(content)
    with pytest.raises(HarnessError) as caught:
        load_tool_descriptions(path)
    assert str(caught.value) == f"{path}: {message}"


def test_rollout_applies_a_descriptions_file_and_an_empty_system_prompt(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "math.jsonl").write_text(json.dumps(TASK.to_json()) + "\n")
    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps({"mean": {"description": "Average them."}}))
    out = tmp_path / "run"
    wording = ["--tool-descriptions", str(texts), "--system-prompt", ""]
    code = main(["rollout", "--tasks", str(tasks), "--policy", "oracle", "--out", str(out), *wording])
    (record,) = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert (code, record["success"]) == (0, True)
    offered = {tool["function"]["name"]: tool["function"]["description"] for tool in record["tools"]}
    assert offered["mean"] == "Average them."
    # No system message: the conversation opens with the user's first turn, as in BFCL's harness.
    assert record["messages"][0] == {"role": "user", "content": "The mean of 1 and 3?"}
