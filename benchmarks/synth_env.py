"""Environment synthesis with the scripted fake model: rounds needed per draft, and where the time goes.

    python benchmarks/synth_env.py                 # the repair scenarios of tests/synth, all verifier checks
    python benchmarks/synth_env.py --check static --check examples --check fuzz

Each scenario scripts the loopback OpenAI-compatible fake (harness/testing.py)
with the replies of one test of tests/synth/test_env_synthesis.py: a good
draft, or a draft broken one way then the good one. The model answers at once,
so the seconds are synthesis's own: loading, compiling and verifying each
draft. The baseline beside the time is one `verify_env` of the good spec,
what a draft that passes costs at least.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import anyio
from _common import machine, table

from harness.llm import import_litellm
from harness.testing import FakeLLM, Reply
from mcpfactory.synth import DraftRejected, Model, ModelConfig, synthesize_env
from mcpfactory.verify import verify_env
from tests.synth import specs  # importable: _common puts the repository root on sys.path

SCENARIOS = {
    "good draft": [specs.GOOD],
    "bad type, then good": [specs.BAD_TYPE, specs.GOOD],
    "forbidden import, then good": [specs.FORBIDDEN_IMPORT, specs.GOOD],
    "failing example, then good": [specs.FAILING_EXAMPLE, specs.GOOD],
    "crashing body, then good": [specs.CRASHING_BODY, specs.GOOD],
    "never passes": [specs.BAD_TYPE, specs.FAILING_EXAMPLE, specs.CRASHING_BODY],
}


def scenario(drafts: list[str], checks: list[str] | None, rounds: int) -> tuple[str, list[str], float]:
    with tempfile.TemporaryDirectory() as scratch, FakeLLM([Reply.text(specs.fenced(d)) for d in drafts]) as llm:
        root = Path(scratch) / "servers"
        root.mkdir()
        model = Model(ModelConfig("openai/fake", api_base=llm.url, api_key="fake", backoff_s=0))

        async def run() -> tuple[str, list[str]]:
            try:
                result = await synthesize_env(
                    "A lending shelf of board games.",
                    name="shelf",
                    model=model,
                    out_root=root,
                    rounds=rounds,
                    run_dir=Path(scratch) / "log",
                    checks=checks,
                )
            except DraftRejected:
                summary = json.loads((Path(scratch) / "log" / "summary.json").read_text())
                return "rejected", list(summary["stages"])
            return f"passed in round {result.rounds}", result.history

        started = time.perf_counter()
        outcome, history = anyio.run(run)
        return outcome, history, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="append", help="verifier checks per draft (default: all)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"# Environment synthesis with the fake model ({machine()})\n")
    print(f"checks per draft: {', '.join(args.check) if args.check else 'all'}; at most {args.rounds} rounds\n")
    import_litellm()  # its import (seconds) is paid once per process, not by the first scenario
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "shelf"
        folder.mkdir()
        (folder / "spec.yaml").write_text(specs.GOOD)
        started = time.perf_counter()
        verify_env(folder, checks=args.check)
        baseline = time.perf_counter() - started
    rows = []
    for name, drafts in SCENARIOS.items():
        outcome, history, seconds = scenario(drafts, args.check, args.rounds)
        rows.append([name, outcome, " -> ".join(history), f"{seconds:.1f}", f"{baseline:.1f}"])
    print(table(["scenario", "outcome", "stage per round", "seconds", "baseline: one verify_env (s)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
