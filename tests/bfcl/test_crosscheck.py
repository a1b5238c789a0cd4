"""Our judge and BFCL's own checker give the same verdict on the same trajectories (a sample of every category).

Each sampled task is played every way `mcpfactory.bfcl.PERTURBATIONS` names
(the ground truth, a silent agent, and perturbed or partial ground truths)
through the harness on the catalog's servers, and the same calls go to
bfcl-eval's `multi_turn_checker`. The full run over all 800 tasks is
`benchmarks/bfcl_multi_turn.py`. Needs bfcl-eval 2026.3.23 (skipped with a
clear message without it).
"""

from __future__ import annotations

from collections import Counter

from mcpfactory.bfcl import CATEGORIES, PERTURBATIONS, BFCLChecker, BFCLSource, crosscheck, trajectory
from mcpfactory.runtime import Task
from tests.conftest import CATALOG


def test_a_perturbation_is_drawn_the_same_way_every_time(tasks: dict[str, Task]) -> None:
    task = tasks["multi_turn_base_0"]
    for kind in PERTURBATIONS:
        assert trajectory(task, kind) == trajectory(task, kind)
    assert trajectory(task, "ground_truth") == task.solution
    assert trajectory(task, "silent") == ()


async def test_both_judges_agree_on_every_trajectory_of_a_sample_of_each_category(
    source: BFCLSource, tasks: dict[str, Task]
) -> None:
    pairs = [(entry, tasks[entry.id]) for category in CATEGORIES for entry in source.entries(category)[3::50]]
    comparisons = await crosscheck(pairs, checker=BFCLChecker(source), catalog=CATALOG)
    # On the same executed calls the judges never differ.
    assert [c.to_json() for c in comparisons if not c.judges_agree] == []
    # Run each harness's own way, they differ only where ours turned a call back to the model as malformed
    # (a number written as text), which BFCL's harness executes anyway.
    assert [c.to_json() for c in comparisons if not c.agree and not (c.refused and c.kind == "number_as_text")] == []
    verdicts = Counter((c.kind, c.theirs) for c in comparisons)
    # The ground truth passes everywhere and a silent agent nowhere; the perturbations mostly fail.
    assert (verdicts[("ground_truth", True)], verdicts[("silent", False)]) == (len(pairs), len(pairs))
    assert sum(n for (kind, passed), n in verdicts.items() if kind not in ("ground_truth", "silent") and not passed) > (
        4 * len(pairs)
    )
