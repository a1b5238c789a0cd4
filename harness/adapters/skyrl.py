"""SkyRL-gym: catalog environments as a SkyRL text environment (`skyrl_gym.envs.base_text_env.BaseTextEnv`).

SkyRL's contract (skyrl-gym 0.4): the generator makes an environment per
trajectory with `skyrl_gym.make(name, env_config=..., extras=row)`, calls
`init(prompt)` for the first observation, then `step(action)` with the model's
raw text each turn and appends the returned `observations` (OpenAI-format
messages) to the conversation, until `done`; the step's `reward` is the
trajectory's.

The model's text is read as the Hermes/Qwen tool-calling format most open
chat templates use: any number of `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
blocks; text with no block is the final answer. Each tool result comes back
as a `tool` message; on `done` the reward is the one judge's, and `metadata`
carries the termination and the reward's components.

```python
import skyrl_gym
from harness.adapters.skyrl import register

register()  # as "mcpfactory"
env = skyrl_gym.make("mcpfactory", extras={"env": "todo", "task": "todo-0001"})
observation, info = env.init([])
output = env.step('<tool_call>{"name": "list_projects", "arguments": {}}</tool_call>')
```
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput

from harness.conversation import AssistantTurn, ToolCall
from harness.gym import BlockingEpisode, BlockingGym

__all__ = ["ENV_ID", "MCPFactoryTextEnv", "parse_action", "register"]

ENV_ID = "mcpfactory"
_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')
_END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|endoftext|>")


def parse_action(action: str) -> AssistantTurn:
    """Read a model's raw text: `<tool_call>` blocks become calls (bad JSON, a malformed call); the rest is text."""
    text = action
    for marker in _END_MARKERS:
        text = text.replace(marker, "")
    calls = []
    for index, block in enumerate(_CALL.findall(text)):
        try:
            payload = json.loads(block)
        except json.JSONDecodeError as exc:
            named = _NAME.search(block)  # say which call was broken when its name survived
            name = named.group(1) if named else ""
            calls.append(ToolCall(f"call_{index}", name, block, None, f"the tool call is not JSON ({exc.msg})"))
            continue
        if not isinstance(payload, Mapping) or not isinstance(payload.get("name"), str):
            calls.append(ToolCall(f"call_{index}", "", block, None, "a tool call is an object with a name"))
            continue
        arguments = payload.get("arguments", {})
        if isinstance(arguments, str | Mapping):
            calls.append(ToolCall.make(f"call_{index}", payload["name"], arguments))
        else:
            raw = json.dumps(arguments)
            calls.append(ToolCall(f"call_{index}", payload["name"], raw, None, "arguments must be a JSON object"))
    content = _CALL.sub("", text).strip() or None
    return AssistantTurn(content=content, tool_calls=tuple(calls), finish_reason="tool_calls" if calls else "stop")


class MCPFactoryTextEnv(BaseTextEnv):
    """One trajectory of a catalog task: `extras` names `env` and `task` (and may give `seed`, `max_turns`).

    `env_config` may carry `catalog` (a folder of compiled servers); all
    instances in a process share one `BlockingGym` per catalog.
    """

    _gyms: ClassVar[dict[str | None, BlockingGym]] = {}

    def __init__(self, env_config: Any = None, extras: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        extras = dict(extras or {})
        if "env" not in extras or "task" not in extras:
            raise ValueError("MCPFactoryTextEnv needs extras with `env` and `task` (a catalog environment and task id)")
        catalog = _get(env_config, "catalog")
        self.gym = self._gym(str(catalog) if catalog else None)
        self.env_name = str(extras["env"])
        self.task_id = str(extras["task"])
        self.seed = int(extras.get("seed", 0))
        self.sample = int(extras.get("sample", 0))
        self.max_turns = int(extras.get("max_turns", self.gym.gym.config.max_turns))
        self.episode: BlockingEpisode | None = None

    @classmethod
    def _gym(cls, catalog: str | None) -> BlockingGym:
        gym = cls._gyms.get(catalog)
        if gym is None or gym.closed:
            from pathlib import Path

            gym = cls._gyms[catalog] = BlockingGym(catalog=Path(catalog) if catalog else None)
        return gym

    def init(self, prompt: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Open the episode; return its opening conversation (system policy, user) and the tools as metadata.

        A non-empty `prompt` from the dataset is returned as it is (it must be
        the same conversation, as `harness.adapters.trl.task_dataset` writes it).
        """
        self.close()
        self.episode = self.gym.open(self.env_name, self.task_id, seed=self.seed, sample=self.sample)
        self.turns = 0
        messages = list(prompt) if prompt else self.episode.messages
        return messages, {"tools": self.episode.tools, "env": self.env_name, "task": self.task_id}

    def step(self, action: str) -> BaseTextEnvStepOutput:
        """Take the model's text as one assistant turn; return the tool results, and on `done` the reward."""
        if self.episode is None:
            raise RuntimeError("call init() before step()")
        self.turns += 1
        if self.episode.done:
            return BaseTextEnvStepOutput(
                observations=[], reward=0.0, done=True, metadata={}, postprocessed_action=action
            )
        result = self.episode.step(parse_action(action))
        done = result.done
        if not done and self.turns >= self.max_turns:
            from harness.env import Termination

            result = self.episode.end(Termination.MAX_TURNS, f"no answer after {self.max_turns} turns")
            done = True
        observations = [{"role": str(m["role"]), "content": str(m.get("content") or "")} for m in result.messages]
        metadata: dict[str, Any] = {}
        reward = 0.0
        if done:
            env = self.episode.env
            reward = self.episode.reward or 0.0
            metadata = {
                "termination": str(env.termination),
                "fault": env.fault,
                "reward_components": dict(env.reward.components) if env.reward is not None else None,
                "record": self.episode.record(policy={"name": "skyrl", "model": None}),
            }
        return BaseTextEnvStepOutput(
            observations=observations, reward=reward, done=done, metadata=metadata, postprocessed_action=action
        )

    def get_metrics(self) -> dict[str, Any]:
        if self.episode is None or not self.episode.done:
            return {}
        env = self.episode.env
        return {
            "success": float(bool(env.reward and env.reward.success)),
            "fault": float(env.fault),
            "calls": len(env.calls),
        }

    def close(self) -> None:
        if self.episode is not None:
            self.episode.close()
            self.episode = None


def _get(config: Any, name: str) -> Any:
    if config is None:
        return None
    if isinstance(config, Mapping):
        return config.get(name)
    return getattr(config, name, None)


def register(env_id: str = ENV_ID) -> None:
    """Register the environment with `skyrl_gym` under `env_id` (idempotent)."""
    import skyrl_gym
    from skyrl_gym.envs.registration import registry

    if env_id not in registry:
        skyrl_gym.register(id=env_id, entry_point="harness.adapters.skyrl:MCPFactoryTextEnv")
