"""TRL: train on catalog environments with `GRPOTrainer`'s environments (TRL 1.x `environment_factory`).

TRL's contract (trl.trainer.grpo_trainer, 1.16): the trainer builds one
environment instance per rollout from `environment_factory`, calls its
`reset(**row)` with the dataset row before generation, exposes its public
methods as tools (their schema rendered from type hints and docstrings), and
calls them with the arguments the model wrote, appending `str(result)` as the
tool message. Reward functions receive the rollout's instances as
`environments`.

Here each catalog environment becomes such a class: one method per MCP tool
(signature and docstring from the tool's input schema), `reset(task=...)`
opens a fresh episode of that task (`harness.gym`), and each tool call is one
step of the episode, with the same validation, deadlines, faults and
terminations as a rollout. The reward is the environment's: `environment_reward`
hands each rollout's final answer to its environment and returns the one
judge's verdict. (TRL's `get_reward()` takes no arguments, so it could not see
the answer, and answers are judged.) Episodes that end in a fault score None,
which TRL leaves out of the group's reward.

```python
from trl import GRPOConfig, GRPOTrainer
from harness.adapters.trl import environment_factory, environment_reward, task_dataset

trainer = GRPOTrainer(
    model="Qwen/Qwen2.5-0.5B-Instruct",
    train_dataset=task_dataset("todo"),
    environment_factory=environment_factory("todo"),
    reward_funcs=[environment_reward],
    args=GRPOConfig(num_generations=8, max_completion_length=1024, max_tool_calling_iterations=10),
)
trainer.train()
```
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from harness.adapters._signatures import tool_function
from harness.conversation import AssistantTurn, ToolCall
from harness.env import EpisodeConfig, Termination
from harness.gym import BlockingEpisode, BlockingGym
from harness.user import UserSimulator

__all__ = [
    "MCPFactoryEnvironment",
    "TrainConfig",
    "TrainResult",
    "environment_class",
    "environment_factory",
    "environment_reward",
    "task_dataset",
    "train",
]

logger = logging.getLogger("harness.adapters.trl")


def _env_names(envs: str | Sequence[str]) -> list[str]:
    names = envs.split(",") if isinstance(envs, str) else list(envs)
    return [name.strip() for name in names if name.strip()]


def task_dataset(
    envs: str | Sequence[str],
    *,
    catalog: Path | None = None,
    ids: Iterable[str] | None = None,
    seed: int = 0,
    system_prompt: str | None = None,
) -> Any:
    """A `datasets.Dataset` of the environments' tasks: one conversational `prompt` per task, with its ids.

    Columns: `prompt` (the system policy and the user's opening line, exactly
    what an episode starts from), `env`, `task`, `seed`, and `environment`
    (the environment's name, which routes each row when the factory is a dict).
    """
    import datasets

    from harness.runner import plan_jobs
    from mcpfactory.runtime import catalog_tasks, server_module

    wanted = set(ids) if ids is not None else None
    rows = []
    for env in _env_names(envs):
        tasks = [task for task in catalog_tasks(env, catalog) if wanted is None or task.id in wanted]
        system = system_prompt
        if system is None:
            # The server's instructions (the spec's policy), as an episode's system message.
            policy = getattr(server_module(env, catalog), "POLICY", None)
            system = policy if isinstance(policy, str) else None
        for job in plan_jobs(tasks, 1, seed):
            prompt = [{"role": "system", "content": system}] if system else []
            prompt.append({"role": "user", "content": job.task.opening})
            rows.append({"prompt": prompt, "env": env, "task": job.task.id, "seed": job.seed, "environment": env})
    return datasets.Dataset.from_list(rows)


class MCPFactoryEnvironment:
    """Base of the per-environment classes `environment_class` builds; one instance serves one rollout at a time.

    Subclasses carry `env` (the catalog name), `gym` (the shared `BlockingGym`)
    and one method per tool. `reset(task=..., seed=...)` starts a fresh episode;
    `record()` gives the finished episode's record.
    """

    env: ClassVar[str]
    gym: ClassVar[BlockingGym]
    # Private: TRL offers every public function of the class to the model as a tool.
    _on_record: ClassVar[Callable[[Mapping[str, Any]], None] | None] = None

    # How many episodes of each task were opened: a rollout's sample index within its group.
    _samples: ClassVar[dict[str, int]]

    def __init__(self) -> None:
        self._episode: BlockingEpisode | None = None
        self._calls = 0

    def reset(self, task: str | None = None, seed: int = 0, **row: Any) -> None:
        """Open a fresh episode of `task` (the dataset row's `task` column); nothing is added to the prompt."""
        self._close()
        if task is None:
            raise ValueError(f"{self.env}: reset needs the row's `task` column (use harness.adapters.trl.task_dataset)")
        sample = self._samples.get(task, 0)
        self._samples[task] = sample + 1
        self._episode = self.gym.open(self.env, task, seed=int(seed), sample=sample)
        self._calls = 0
        return None

    def _call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        episode = self._episode
        if episode is None:
            raise RuntimeError(f"{self.env}: call reset() before the tools")
        if episode.done:
            return f"Error: the episode is over ({episode.env.termination}); no more calls are run."
        self._calls += 1
        call = ToolCall.make(f"call_{self._calls}", name, arguments)
        step = episode.step(AssistantTurn(tool_calls=(call,), finish_reason="tool_calls"))
        texts = [str(m["content"]) for m in step.messages if m.get("role") == "tool"]
        return texts[0] if texts else ""

    def _finish(self, answer: str | None) -> float | None:
        """End the episode with the rollout's final answer (None: it stopped without one); return its reward."""
        episode = self._episode
        if episode is None:
            return None
        if not episode.done:
            if answer and answer.strip():
                episode.step(AssistantTurn(content=answer, finish_reason="stop"))
                if not episode.done:  # a simulated user answered; the rollout has no more turns to give
                    episode.end(Termination.TRUNCATED, "the rollout ended before the conversation did")
            else:
                episode.end(Termination.TRUNCATED, "the rollout ended without a final answer")
        record = episode.record(policy={"name": "trl", "model": None})
        hook = type(self)._on_record
        if hook is not None:
            hook(record)
        reward = episode.reward
        self._close()
        return reward

    def _close(self) -> None:
        if self._episode is not None:
            self._episode.close()
            self._episode = None


def environment_class(env: str, gym: BlockingGym) -> type[MCPFactoryEnvironment]:
    """Build the environment class of catalog environment `env`: one method per tool it lists."""
    task = gym.tasks(env)[0]
    episode = gym.open(env, task)
    try:
        tools = episode.env.tools
    finally:
        episode.close()

    def call(self: MCPFactoryEnvironment, name: str, arguments: dict[str, Any]) -> str:
        return self._call_tool(name, arguments)

    reserved = {"reset", "get_reward", "env", "gym"}
    namespace: dict[str, Any] = {
        "env": env,
        "gym": gym,
        "_samples": {},
        "__doc__": f"The `{env}` environment for TRL's GRPOTrainer.",
    }
    for tool in tools:
        if tool.name in reserved or tool.name.startswith("_"):
            raise ValueError(f"{env}: tool {tool.name!r} clashes with the environment's own methods")
        namespace[tool.name] = tool_function(tool, call)
    class_name = "".join(part.capitalize() for part in env.split("_")) + "Environment"
    return type(class_name, (MCPFactoryEnvironment,), namespace)


def environment_factory(
    envs: str | Sequence[str],
    *,
    catalog: Path | None = None,
    config: EpisodeConfig | None = None,
    user: UserSimulator | None = None,
    on_record: Callable[[Mapping[str, Any]], None] | None = None,
    gym: BlockingGym | None = None,
) -> Callable[[], MCPFactoryEnvironment] | dict[str, Callable[[], MCPFactoryEnvironment]]:
    """The `environment_factory` for `GRPOTrainer`: a class for one environment, a dict of them for several.

    With several environments the dataset's `environment` column routes each
    row (as `task_dataset` writes it). `on_record` receives every finished
    episode's record (to keep them as a run's records.jsonl).
    """
    gym = gym or BlockingGym(catalog=catalog, config=config, user=user)
    classes = {}
    for env in _env_names(envs):
        cls = environment_class(env, gym)
        cls._on_record = on_record
        classes[env] = cls
    if len(classes) == 1:
        return next(iter(classes.values()))
    return dict(classes)


def environment_reward(
    completions: Sequence[Any], environments: Sequence[MCPFactoryEnvironment] | None = None, **kwargs: Any
) -> list[float | None]:
    """TRL reward function: each rollout's environment judges it, given the rollout's final answer.

    Faults (the environment, not the model, failed) give None, which TRL
    leaves out; their count is logged as `mcpfactory/faults`.
    """
    if environments is None:
        raise ValueError("environment_reward needs GRPOTrainer(environment_factory=...) from harness.adapters.trl")
    rewards: list[float | None] = []
    faults = 0
    for completion, environment in zip(completions, environments, strict=True):
        reward = environment._finish(_final_answer(completion))
        faults += reward is None
        rewards.append(reward)
    log_metric = kwargs.get("log_metric")
    if callable(log_metric):
        log_metric("mcpfactory/faults", float(faults))
    return rewards


environment_reward.__name__ = "mcpfactory"


def _final_answer(completion: Any) -> str | None:
    if isinstance(completion, str):
        return completion
    if not completion:
        return None
    last = completion[-1]
    if last.get("role") != "assistant" or last.get("tool_calls"):
        return None
    content = last.get("content")
    if isinstance(content, list):  # content parts
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return content if isinstance(content, str) else None


# `mcpfactory train --trainer trl` -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What `mcpfactory train --trainer trl` runs: GRPO on catalog environments.

    `model` is a checkpoint name or folder, or `tiny-random` (built locally).
    `num_generations` is the GRPO group size; `max_turns` bounds the tool
    calls of one rollout; `generation` is `transformers` (the trainer's own
    `generate`) or `vllm` (`vllm_mode` `colocate`, or `server` with
    `trl vllm-serve` running).
    """

    model: str
    envs: tuple[str, ...]
    out: Path
    task_ids: tuple[str, ...] | None = None
    catalog: Path | None = None
    num_generations: int = 4
    steps: int = 10
    learning_rate: float = 1e-6
    max_turns: int = 10
    max_completion_length: int = 512
    temperature: float = 1.0
    generation: Literal["transformers", "vllm"] = "transformers"
    vllm_mode: Literal["colocate", "server"] = "colocate"
    batch_size: int | None = None
    seed: int = 0
    use_cpu: bool = False
    episode: EpisodeConfig = field(default_factory=EpisodeConfig)

    def to_json(self) -> dict[str, Any]:
        return {
            "trainer": "trl",
            "model": self.model,
            "envs": list(self.envs),
            "task_ids": list(self.task_ids) if self.task_ids is not None else None,
            "num_generations": self.num_generations,
            "steps": self.steps,
            "learning_rate": self.learning_rate,
            "max_turns": self.max_turns,
            "max_completion_length": self.max_completion_length,
            "temperature": self.temperature,
            "generation": self.generation,
            "vllm_mode": self.vllm_mode,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "episode": self.episode.to_json(),
        }


@dataclass
class TrainResult:
    """What a training run did: the reward logged at each step, and where its files are."""

    steps: list[dict[str, Any]]
    out: Path
    episodes: int


def train(config: TrainConfig, *, say: Callable[[str], None] = logger.info) -> TrainResult:
    """Run GRPO with TRL on the configured environments; write the model, records and a per-step log to `out`.

    `out` receives `run.json` (the configuration), `records.jsonl` (every
    rollout's episode record, as a rollout run writes them), `train_log.jsonl`
    (TRL's log per step: reward, its spread, loss, ...) and the trained model.
    """
    import os

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from harness.adapters.tiny import TINY_RANDOM, build_tiny_random
    from harness.records import RecordWriter

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps({"train": config.to_json()}, indent=2) + "\n", encoding="utf-8")
    if config.model == TINY_RANDOM:
        model, tokenizer = build_tiny_random(out / "tiny-random", seed=config.seed)
    else:
        tokenizer = AutoTokenizer.from_pretrained(config.model)
        model = AutoModelForCausalLM.from_pretrained(config.model)
    tokenizer.padding_side = "left"
    episode = replace(config.episode, max_turns=config.max_turns)
    episodes = 0
    steps: list[dict[str, Any]] = []
    batch = config.batch_size or config.num_generations
    with RecordWriter(out) as writer, BlockingGym(catalog=config.catalog, config=episode) as gym:

        def keep(record: Mapping[str, Any]) -> None:
            nonlocal episodes
            episodes += 1
            writer.write(record)

        class StepLog(TrainerCallback):
            def on_log(
                self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **_: Any
            ) -> None:
                if not logs or "reward" not in logs:
                    return
                entry = {"step": int(state.global_step), **{k: v for k, v in logs.items() if _is_number(v)}}
                steps.append(entry)
                with (out / "train_log.jsonl").open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")
                say(f"step {entry['step']}: reward {entry['reward']:.4f} (std {entry.get('reward_std', 0.0):.4f})")

        args = GRPOConfig(
            output_dir=str(out),
            max_steps=config.steps,
            learning_rate=config.learning_rate,
            num_generations=config.num_generations,
            per_device_train_batch_size=batch,
            max_completion_length=config.max_completion_length,
            max_tool_calling_iterations=config.max_turns,
            temperature=config.temperature,
            use_vllm=config.generation == "vllm",
            vllm_mode=config.vllm_mode,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            seed=config.seed,
            use_cpu=config.use_cpu,
            bf16=_bf16(config.use_cpu),
            disable_tqdm=True,
        )
        trainer = GRPOTrainer(
            model=model,
            processing_class=tokenizer,
            reward_funcs=[environment_reward],
            train_dataset=task_dataset(
                config.envs,
                catalog=config.catalog,
                ids=config.task_ids,
                seed=config.seed,
                system_prompt=episode.system_prompt,
            ),
            environment_factory=environment_factory(config.envs, on_record=keep, gym=gym),
            args=args,
            callbacks=[StepLog()],
        )
        trainer.train()
        trainer.save_model(str(out / "model"))
    return TrainResult(steps, out, episodes)


def _bf16(use_cpu: bool) -> bool:
    """Train in bfloat16 on a GPU that has it; in float32 on the CPU."""
    import torch

    return not use_cpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
