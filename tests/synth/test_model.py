"""The model interface against a loopback OpenAI-compatible server: structured output, fallbacks, retries, cache."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from harness.testing import FakeLLM, Reply
from mcpfactory.synth import CacheMiss, ModelError, OutputError
from mcpfactory.synth._extract import extract_block, extract_json
from mcpfactory.synth.model import Model, ModelConfig
from tests.synth.conftest import model_for

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "nights": {"type": "integer", "minimum": 1}},
    "required": ["city", "nights"],
}
ASK = [{"role": "user", "content": "Where and for how long?"}]


async def test_structured_output_is_requested_with_the_json_schema_and_parsed(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm([Reply.text('{"city": "Lisbon", "nights": 3}')])
    model = model_for(llm)
    with anyio.fail_after(30):
        reply = await model.json(ASK, SCHEMA, name="stay")
    assert reply.data == {"city": "Lisbon", "nights": 3}
    assert reply.mode == "json_schema"
    assert llm.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "stay", "schema": SCHEMA, "strict": False},
    }


async def test_a_provider_refusing_the_response_format_is_asked_again_in_plain_text(
    fake_llm: Callable[..., FakeLLM],
) -> None:
    def script(body: dict[str, Any]) -> Reply:
        if "response_format" in body:
            return Reply.http_error(400, "response_format is not supported by this model")
        return Reply.text('Sure! Here it is:\n```json\n{"city": "Porto", "nights": 2}\n```')

    llm = fake_llm(script)
    model = model_for(llm)
    with anyio.fail_after(30):
        first = await model.json(ASK, SCHEMA)
        second = await model.json(ASK, SCHEMA)
    assert first.data == second.data == {"city": "Porto", "nights": 2}
    assert (first.mode, second.mode) == ("text", "text")
    # The refusal is remembered: the second call goes straight to text.
    assert ["response_format" in r for r in llm.requests] == [True, False, False]
    assert json.dumps(SCHEMA, indent=1) in llm.requests[1]["messages"][-1]["content"]


async def test_a_reply_that_does_not_validate_is_fed_back_until_one_does(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm(
        [
            Reply.text('{"city": "Lisbon", "nights": 0}'),  # structured, but invalid
            Reply.text("I think Lisbon for a few nights."),  # text, no JSON at all
            Reply.text('{"city": "Lisbon", "nights": 4}'),
        ]
    )
    model = model_for(llm)
    with anyio.fail_after(30):
        reply = await model.json(ASK, SCHEMA)
    assert reply.data == {"city": "Lisbon", "nights": 4}
    assert len(reply.transcript) == 3
    feedback = llm.requests[2]["messages"][-1]["content"]
    assert feedback.startswith("That reply is not usable: no JSON value found in the reply")


async def test_text_mode_never_sends_a_response_format(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm([Reply.text('noise {"city": "Oslo", "nights": 1} trailing')])
    model = model_for(llm, structured="text")
    with anyio.fail_after(30):
        reply = await model.json(ASK, SCHEMA)
    assert reply.data == {"city": "Oslo", "nights": 1}
    assert "response_format" not in llm.requests[0]


async def test_no_valid_reply_after_every_attempt_raises_output_error(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm([Reply.text('{"city": 5}')] * 3)
    model = model_for(llm)
    with anyio.fail_after(30), pytest.raises(OutputError) as caught:
        await model.json(ASK, SCHEMA)
    assert caught.value.problems == ["(root): 'nights' is a required property", "city: 5 is not of type 'string'"]
    assert llm.remaining == 0


async def test_rate_limits_and_server_errors_are_retried(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm([Reply.http_error(429, retry_after=0), Reply.http_error(503), Reply.text("hello")])
    model = model_for(llm)
    with anyio.fail_after(30):
        reply = await model.chat(ASK)
    assert reply.text == "hello"
    assert (model.usage.requests, model.usage.retries) == (3, 2)


async def test_retries_run_out_into_a_model_error_with_the_status(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm([Reply.http_error(500)] * 3)
    model = model_for(llm, max_retries=2)
    with anyio.fail_after(30), pytest.raises(ModelError) as caught:
        await model.chat(ASK)
    assert (caught.value.status, caught.value.attempts) == (500, 3)


async def test_a_client_error_is_not_retried(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm([Reply.http_error(401, "bad key")])
    model = model_for(llm)
    with anyio.fail_after(30), pytest.raises(ModelError) as caught:
        await model.chat(ASK)
    assert (caught.value.status, caught.value.attempts) == (401, 1)


async def test_a_reply_that_never_comes_times_out_within_the_deadline(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm([Reply.hanging()])
    model = model_for(llm, timeout_s=0.5, max_retries=0)
    with anyio.fail_after(30), pytest.raises(ModelError, match=r"no reply within 0\.5 s"):
        await model.chat(ASK)


async def test_tokens_are_counted_and_an_unpriced_model_is_counted_as_such(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm([Reply.text("one"), Reply.text("two")])
    model = model_for(llm)
    with anyio.fail_after(30):
        first = await model.chat(ASK)
        await model.chat(ASK)
    assert first.prompt_tokens > 0 and first.completion_tokens > 0
    assert first.cost_usd is None
    usage = model.usage.to_json()
    assert usage["prompt_tokens"] == 2 * first.prompt_tokens
    assert (usage["requests"], usage["unpriced_requests"], usage["cost_usd"]) == (2, 2, 0.0)


async def test_a_recorded_run_replays_with_the_server_shut_down(
    fake_llm: Callable[..., FakeLLM], tmp_path: Path
) -> None:
    def script(body: dict[str, Any]) -> Reply:
        if "response_format" in body:
            return Reply.http_error(400, "no response_format here")
        return Reply.text('{"city": "Rome", "nights": 5}')

    llm = fake_llm(script)
    recording = model_for(llm, cache_dir=tmp_path / "cache")
    with anyio.fail_after(30):
        recorded = [await recording.json(ASK, SCHEMA), await recording.chat(ASK)]
    url = llm.url
    llm.close()

    offline = Model(ModelConfig("openai/fake", api_base=url, cache_dir=tmp_path / "cache", cache_mode="replay"))
    with anyio.fail_after(30):
        replayed = [await offline.json(ASK, SCHEMA), await offline.chat(ASK)]
    assert [(r.text, r.data, r.mode) for r in replayed] == [(r.text, r.data, r.mode) for r in recorded]
    assert all(r.cached for r in replayed)
    assert (offline.usage.requests, offline.usage.cache_hits) == (0, 3)
    with anyio.fail_after(30), pytest.raises(CacheMiss):
        await offline.chat([{"role": "user", "content": "something never asked"}])


def test_json_is_found_in_prose_fences_and_balanced_brackets() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Here:\n```json\n{"a": [1, 2]}\n```\nDone.') == {"a": [1, 2]}
    assert extract_json('The answer is {"a": "}"} and more {') == {"a": "}"}
    with pytest.raises(ValueError, match="no JSON value found"):
        extract_json("nothing here")


def test_a_yaml_block_is_found_even_when_the_reply_is_cut_off() -> None:
    assert extract_block("text\n```yaml\nname: x\n```\n", ("yaml",)) == "name: x"
    assert extract_block("```yml\nname: y\nversion: 1", ("yaml", "yml")) == "name: y\nversion: 1"
    assert extract_block("```\nplain\n```", ("yaml",)) == "plain"
    assert extract_block("no fence", ("yaml",)) is None
