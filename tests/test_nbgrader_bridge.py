"""nbgrader's door scores like the sandboxed grader: for every corpus submission, the
hidden cells' in-kernel scoring (grader.nbgrader_bridge) gives each exercise exactly the
points the corpus proves the sandbox gives it."""

import contextlib
import io

import nbformat
import pytest
import torch

from grader import notebook, runner
from grader.nbgrader_bridge import score_exercise
from submissions import corpus


def kernel_namespace(submission):
    """What a kernel holds after running a submission's setup and answer cells, with IPython's In."""
    nb = nbformat.reads(submission.decode(), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and (
        (notebook.grade_id(c) or "").startswith("setup") or c.metadata.get("nbgrader", {}).get("solution"))]
    namespace = {"__name__": "__main__", "In": [c.source for c in cells]}
    for cell in cells:
        exec(compile(cell.source, f"<cell {notebook.grade_id(cell)}>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("entry", [e for e in corpus() if "cuda" not in e.needs], ids=repr)
def test_kernel_scores_match_the_sandbox_proof(entry):
    checks = runner.collect_checks(entry.assignment)
    expected = {}
    for c in checks:
        expected[c["exercise"]] = expected.get(c["exercise"], 0.0) + (0.0 if c["id"] in entry.loses else c["max_score"])
    namespace = kernel_namespace(entry.submission())
    with contextlib.redirect_stdout(io.StringIO()), torch.random.fork_rng():
        got = {exercise: score_exercise(entry.assignment, exercise, namespace) for exercise in expected}
    assert got == expected
