"""The course notebooks: released with nbgrader, stubs in place of solutions, and every
solution notebook runs top to bottom in a real Jupyter kernel."""

import json
import re
import shutil
import subprocess
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient

from grader.course import assignments, notebook
from submissions import reference_answers

AUTHORED = assignments.authored()
CONTRACT = {
    "a1_cross_correlation": {"corr2d", "Conv2D", "learn_edge_kernel"},
    "a2_padding_stride_channels": {"corr2d_padded_strided", "corr2d_multi_in",
                                   "corr2d_multi_in_out", "corr2d_multi_in_out_1x1"},
    "a3_output_shapes": {"conv_output_size", "conv_transpose_output_size", "pool_output_size",
                         "conv2d_output_shape", "receptive_field", "conv2d_num_params", "conv2d_macs"},
    "a4_pooling": {"pool2d"},
    "a5_lenet": {"LeNet", "CifarNet", "layer_output_shapes"},
}


def test_every_contract_assignment_is_authored_and_graded():
    assert set(AUTHORED) == set(CONTRACT)
    assert set(assignments.names()) == set(CONTRACT)


@pytest.mark.parametrize("assignment", sorted(CONTRACT))
def test_answer_cells_are_the_contract_names(assignment):
    assert notebook.answer_ids(assignment) == CONTRACT[assignment]


def test_exercises_are_exactly_what_nbgrader_regenerates(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(assignments.SOLUTIONS, course / "solutions")
    shutil.copy(assignments.COURSE_DIR / "nbgrader_config.py", course)
    for assignment in AUTHORED:
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
                        "--force", "--no-db", "--log-level=ERROR"], cwd=course, check=True)
        regenerated = json.loads((course / "exercises" / assignment / f"{assignment}.ipynb").read_text())
        committed = json.loads(assignments.released_notebook(assignment).read_text())
        assert committed == regenerated, f"exercises/{assignment} is stale: run `convgrade release`"


@pytest.mark.parametrize("assignment", sorted(CONTRACT))
def test_released_notebook_holds_no_solution_code(assignment):
    released = nbformat.read(assignments.released_notebook(assignment), as_version=4)
    text = "\n".join(cell.source for cell in released.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    for cid, solution in reference_answers(assignment).items():
        stub = _cell(released, cid).source
        for line in _solution_lines(assignment, cid):
            assert line not in stub, f"{assignment}/{cid} leaks solution line {line!r}"


@pytest.mark.parametrize("assignment", sorted(CONTRACT))
def test_every_released_stub_raises_not_implemented(assignment):
    released = nbformat.read(assignments.released_notebook(assignment), as_version=4)
    for cid in CONTRACT[assignment]:
        stub = _cell(released, cid).source
        assert "raise NotImplementedError()" in stub, f"{assignment}/{cid} has no stub"
        assert _solution_lines(assignment, cid), f"{assignment}/{cid} has no solution block"


@pytest.mark.parametrize("assignment", sorted(CONTRACT))
def test_solution_notebook_runs_top_to_bottom_with_full_hidden_marks(assignment):
    """In a real kernel, as nbgrader runs it: no error, and each hidden cell gives full points."""
    nb = nbformat.read(assignments.source_notebook(assignment), as_version=4)
    started = time.monotonic()
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(assignments.SOLUTIONS / assignment)}}).execute()
    assert time.monotonic() - started < 60
    for cell in nb.cells:
        if (notebook.grade_id(cell) or "").startswith("hidden_"):
            results = [o for o in cell.outputs if o.output_type == "execute_result"]
            stderr = [o for o in cell.outputs if o.get("name") == "stderr"]
            assert not stderr, f"{notebook.grade_id(cell)} wrote to stderr: nbgrader would give 0"
            assert float(results[0].data["text/plain"]) == cell.metadata.nbgrader.points > 0


def _cell(nb, cid):
    matches = [c for c in nb.cells if notebook.grade_id(c) == cid]
    assert len(matches) == 1, f"expected one cell {cid}, found {len(matches)}"
    return matches[0]


def _solution_lines(assignment, cid):
    """The non-trivial lines between the solution markers of the source notebook."""
    source = _cell(nbformat.read(assignments.source_notebook(assignment), as_version=4), cid).source
    blocks = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.DOTALL)
    lines = {line.strip() for block in blocks for line in block.splitlines()}
    return {line for line in lines if len(line) > 12 and not line.startswith("#")}


@pytest.mark.parametrize("assignment", sorted(CONTRACT))
def test_hidden_test_cells_carry_the_suite_points(assignment):
    from grader.engine import runner

    checks = runner.collect_checks(assignment)
    source = nbformat.read(assignments.source_notebook(assignment), as_version=4)
    hidden = {notebook.grade_id(c).removeprefix("hidden_"): c.metadata["nbgrader"]["points"]
              for c in source.cells if (notebook.grade_id(c) or "").startswith("hidden_")}
    expected = {e: sum(c["max_score"] for c in checks if c["exercise"] == e) for e in CONTRACT[assignment]}
    assert hidden == expected, "run `convgrade release` to sync points from the suite"
