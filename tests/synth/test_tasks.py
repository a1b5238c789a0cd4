"""Task synthesis on the catalog environments: deterministic, deduplicated, and every task passes the verifier."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from harness.testing import FakeLLM, Reply
from mcpfactory.cli import main
from mcpfactory.runtime import load_tasks as runtime_load_tasks
from mcpfactory.synth import SynthReport, append_tasks, build_graph, read_tasks, synthesize_tasks
from mcpfactory.synth._session import import_server, open_session
from mcpfactory.synth.model import Model, ModelConfig
from mcpfactory.verify import verify_env
from tests.conftest import CATALOG
from tests.synth.conftest import ENVS_WITH_SERVERS, model_for


def _synthesize(env_dir: Path, **options: Any) -> SynthReport:
    async def run() -> SynthReport:
        with anyio.fail_after(120):
            return await synthesize_tasks(env_dir, **options)

    return anyio.run(run)


@pytest.mark.parametrize("env", ENVS_WITH_SERVERS)
def test_task_synthesis_is_deterministic_for_a_seed(env: str) -> None:
    first = _synthesize(CATALOG / env, n=6, seed=3)
    again = _synthesize(CATALOG / env, n=6, seed=3)
    other = _synthesize(CATALOG / env, n=6, seed=4)
    assert first.tasks == again.tasks
    assert len(first.tasks) == 6
    assert [t["id"] for t in other.tasks] != [t["id"] for t in first.tasks]


@pytest.mark.parametrize("env", ENVS_WITH_SERVERS)
def test_every_synthesized_task_passes_the_verifiers_task_check(env: str, env_copy: Callable[[str], Path]) -> None:
    folder = env_copy(env)
    report = _synthesize(folder, n=12, seed=0)
    append_tasks(folder / "tasks.jsonl", report.tasks)
    verified = verify_env(folder, checks=["static", "tasks"], budget=120)
    tasks_check = verified.check("tasks")
    assert tasks_check.passed, tasks_check.evidence
    assert tasks_check.stats["checked"] == len(report.tasks) == 12


@pytest.mark.parametrize("env", ENVS_WITH_SERVERS)
def test_synthesized_tasks_have_the_documented_shape(env: str, tmp_path: Path) -> None:
    report = _synthesize(CATALOG / env, n=10, seed=1)
    path = tmp_path / "tasks.jsonl"
    append_tasks(path, report.tasks)
    loaded = runtime_load_tasks(path)
    assert [t.id for t in loaded] == [t["id"] for t in report.tasks]
    for task, parsed in zip(report.tasks, loaded, strict=True):
        assert task["env"] == env and task["initial_state"] is None
        assert task["difficulty"] in ("easy", "medium", "hard")
        assert 1 <= len(task["solution"]) <= 8
        assert task["instruction"]
        assert parsed.user is not None and parsed.opening == task["user_scenario"]["opening"]
        assert set(task["user_scenario"]) == {"opening", "goal", "known", "unknown", "persona", "confirm", "stop"}
        if "refusal" in task["tags"]:
            assert parsed.judge.facts and parsed.judge.state == "match", task["id"]
        elif "read" in task["tags"]:
            assert parsed.judge.facts, task["id"]
        else:
            assert task["judge"]["assertions"], task["id"]
    summary = report.to_json()
    assert summary["tasks"] == 10 and summary["chains"] >= 10
    assert summary["perturbations_failed"] <= summary["perturbations"]


def test_tasks_already_in_the_file_are_not_synthesized_again() -> None:
    first = _synthesize(CATALOG / "todo", n=5, seed=0)
    second = _synthesize(CATALOG / "todo", n=5, seed=0, existing=first.tasks)
    assert not {t["id"] for t in first.tasks} & {t["id"] for t in second.tasks}
    assert second.duplicates >= len(first.tasks) - first.refusals


def test_a_write_task_is_judged_by_the_records_it_changed_and_names_them_as_a_user_would() -> None:
    report = _synthesize(CATALOG / "todo", n=10, seed=0)
    task = next(t for t in report.tasks if [c["tool"] for c in t["solution"]] == ["find_tasks", "reschedule_task"])
    arguments = task["solution"][1]["arguments"]
    assert task["judge"] == {
        "state": "match",
        "assertions": [{"path": ["tasks", arguments["task_id"], "due"], "op": "==", "value": arguments["due"]}],
        "facts": [],
        "ignore_args": {"find_tasks": ["due_before", "project_id", "status", "tag", "text"]},
    }
    # The lookup found the task by its title, so the user names the title and the id stays hidden.
    opening = task["user_scenario"]["opening"]
    assert arguments["task_id"] not in opening
    seed = {t["task_id"]: t for t in json.loads((CATALOG / "todo" / "data" / "tasks.json").read_text())}
    assert f"“{seed[arguments['task_id']]['title']}”" in opening
    assert task["user_scenario"]["unknown"] == ["the task id"]
    # The summary for people keeps the ids.
    assert arguments["task_id"] in task["instruction"]


def test_a_lookup_reveals_the_id_a_write_takes_and_its_arguments_do_not_matter() -> None:
    report = _synthesize(CATALOG / "hotel", n=20, seed=0)
    task = next(
        t for t in report.tasks if [c["tool"] for c in t["solution"]][:1] == ["find_guest"] and "write" in t["tags"]
    )
    assert task["judge"]["ignore_args"]["find_guest"] == ["email"]
    email = task["solution"][0]["arguments"]["email"]
    assert email in task["user_scenario"]["opening"]
    assert f"My email is {email}." in task["user_scenario"]["known"]
    assert "lookup" in task["tags"]


def test_the_tool_graph_links_outputs_to_the_inputs_they_feed() -> None:
    async def graph() -> Any:
        async with open_session(import_server(CATALOG / "hotel")) as session:
            await session.reset()
            return build_graph(session.tools, await session.full_state())

    built = anyio.run(graph).to_json()
    assert "find_guest.guest_id -> book_room.guest_id" in built["edges"]
    assert {"bookings.guest_id -> guests", "payments.booking_id -> bookings"} <= set(built["links"])
    assert built["tools"]["book_room"]["params"]["guest_id"] == {
        "kind": "string",
        "required": True,
        "ref": "guests",
        "fields": ["guests.guest_id", "bookings.guest_id", "payments.guest_id"],
    }
    assert built["key_fields"]["guests"] == "guest_id"


def test_the_cli_appends_tasks_to_the_file_it_is_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tasks.jsonl"
    arguments = ["synth", "tasks", "todo", "--root", str(CATALOG), "--n", "3", "--out", str(out)]
    assert main(arguments) == 0
    assert main(arguments) == 0
    tasks = read_tasks(out)
    assert len(tasks) == 6 == len({t["id"] for t in tasks})
    assert re.search(r"todo: 3 task\(s\) from \d+ chain\(s\)", capsys.readouterr().err)


def _instruction_script(leak_always: bool) -> Callable[[dict[str, Any]], Reply]:
    def script(body: dict[str, Any]) -> Reply:
        prompt = body["messages"][0]["content"]
        hidden = re.search(r"must NOT appear in the message \(the assistant looks them up\): (.*)", prompt)
        ids = hidden.group(1).split(", ") if hidden and hidden.group(1) != "(none)" else []
        retried = len(body["messages"]) > 1 and "cannot be used" in body["messages"][-1]["content"]
        if ids and (leak_always or not retried):
            return Reply.text(json.dumps({"opening": f"Please sort out {ids[0]} for me today."}))
        return Reply.text(json.dumps({"opening": "Please sort out the thing I mentioned, thank you."}))

    return script


def test_a_model_words_openings_and_a_leaked_id_is_sent_back_once(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm(_instruction_script(leak_always=False))
    report = _synthesize(CATALOG / "todo", n=4, seed=0, model=model_for(llm))
    assert all("model-opening" in t["tags"] for t in report.tasks)
    assert {t["user_scenario"]["opening"] for t in report.tasks} == {
        "Please sort out the thing I mentioned, thank you."
    }
    retries = [r for r in llm.requests if "cannot be used" in r["messages"][-1]["content"]]
    assert retries and "states the internal id" in retries[0]["messages"][-1]["content"]
    assert report.usage is not None and report.usage["requests"] == len(llm.requests)


def test_an_opening_that_keeps_leaking_falls_back_to_the_template(fake_llm: Callable[..., FakeLLM]) -> None:
    llm = fake_llm(_instruction_script(leak_always=True))
    report = _synthesize(CATALOG / "todo", n=4, seed=0, model=model_for(llm))
    leaked = [t for t in report.tasks if "template-opening" in t["tags"]]
    assert leaked and report.template_instructions == len(leaked)
    plain = _synthesize(CATALOG / "todo", n=4, seed=0)
    by_id = {t["id"]: t["user_scenario"]["opening"] for t in plain.tasks}
    assert all(t["user_scenario"]["opening"] == by_id[t["id"]] for t in leaked)


def test_a_synthesis_with_a_model_replays_from_the_cache_with_the_model_gone(
    fake_llm: Callable[..., FakeLLM], tmp_path: Path
) -> None:
    llm = fake_llm(_instruction_script(leak_always=False))
    recorded = _synthesize(CATALOG / "todo", n=4, seed=2, model=model_for(llm, cache_dir=tmp_path / "cache"))
    url = llm.url
    llm.close()
    offline = Model(ModelConfig("openai/fake", api_base=url, cache_dir=tmp_path / "cache", cache_mode="replay"))
    replayed = _synthesize(CATALOG / "todo", n=4, seed=2, model=offline)
    assert replayed.tasks == recorded.tasks
    assert offline.usage.requests == 0 and offline.usage.cache_hits > 0
