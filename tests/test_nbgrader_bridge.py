"""nbgrader's door scores like the sandboxed grader: for every corpus submission, the
hidden cells' in-kernel scoring (grader.doors.nbgrader_bridge) gives each exercise exactly the
points the corpus proves the sandbox gives it.

The kernel runs the setup and answer cells, and the cells the student added; a corpus entry
with added cells is run as Jupyter and `nbgrader autograde` run it: every code cell but the
graded test cells, the notebook's own demonstration cells included (slower: a few seconds
each; only those entries)."""

import contextlib
import io

import nbformat
import pytest
import torch

from grader.course import notebook
from grader.doors.nbgrader_bridge import score_exercise
from grader.engine import runner
from submissions import corpus


def kernel_namespace(submission, every_cell=False):
    """What a kernel holds after running a submission's setup and answer cells (or, with
    every_cell, all its code cells but the graded test cells), with IPython's In."""
    nb = nbformat.reads(submission.decode(), as_version=4)

    def runs(cell):
        meta = cell.metadata.get("nbgrader", {})
        if every_cell:
            return not meta.get("grade")
        return (notebook.grade_id(cell) or "").startswith("setup") or meta.get("solution")
    cells = [c for c in nb.cells if c.cell_type == "code" and runs(c)]
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
    with contextlib.redirect_stdout(io.StringIO()), torch.random.fork_rng():
        namespace = kernel_namespace(entry.submission(), every_cell=bool(entry.added))
    with contextlib.redirect_stdout(io.StringIO()), torch.random.fork_rng():
        got = {exercise: score_exercise(entry.assignment, exercise, namespace) for exercise in expected}
    assert got == expected
