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


def exercises(assignment):
    """The exercises the assignment's hidden suite grades: the one list (grader.engine.runner)."""
    from grader.engine import runner

    return set(runner.exercises(assignment))


def test_every_authored_assignment_has_a_suite_that_grades_exercises():
    assert AUTHORED and set(assignments.names()) == set(AUTHORED)
    assert all(exercises(assignment) for assignment in AUTHORED)


@pytest.mark.parametrize("assignment", AUTHORED)
def test_answer_cells_are_the_exercises_the_suite_grades(assignment):
    assert notebook.answer_ids(assignment) == exercises(assignment)


@pytest.mark.parametrize("assignment", AUTHORED)
def test_source_notebook_is_in_line_with_its_suite(assignment):
    """Points, checklist and forbidden shortcuts as release writes them: nothing to sync."""
    from grader.operations import release

    assert not release.synced_source(assignment)[1], "run `convgrade release`"


def test_student_api_page_is_what_release_writes():
    from grader.operations import release

    assert release.STUDENT_API.read_text() == release.student_api(), "run `convgrade release`"


def test_release_rewrites_a_stale_or_missing_forbidden_shortcuts_list(tmp_path, monkeypatch):
    """The list under "Forbidden shortcuts" names, in both languages, the exercises a check of
    which applies the rule; release rewrites a hand-edited list and puts back a deleted one."""
    from grader.engine import runner
    from grader.operations import release

    committed = {a: _shortcuts_cells(nbformat.read(assignments.source_notebook(a), as_version=4))
                 for a in AUTHORED}
    shutil.copytree(assignments.SOLUTIONS, tmp_path / "solutions")
    monkeypatch.setattr(assignments, "SOLUTIONS", tmp_path / "solutions")
    a2, a4 = "a2_padding_stride_channels", "a4_pooling"
    stale = nbformat.read(assignments.source_notebook(a2), as_version=4)
    cell, = _shortcuts_cells(stale)
    cell.source = cell.source.replace(", `corr2d_multi_in_out_1x1`", "").replace(" and `corr2d_multi_in_out_1x1`", "")
    nbformat.write(stale, assignments.source_notebook(a2))
    deleted = nbformat.read(assignments.source_notebook(a4), as_version=4)
    deleted.cells = [c for c in deleted.cells if c not in _shortcuts_cells(deleted)]
    nbformat.write(deleted, assignments.source_notebook(a4))

    assert release.sync_with_suite(a2) and release.sync_with_suite(a4)
    for assignment in AUTHORED:
        cells = _shortcuts_cells(nbformat.read(assignments.source_notebook(assignment), as_version=4))
        assert [c.source for c in cells] == [c.source for c in committed[assignment]]
        ruled = runner.exercises_with_the_rule(assignment)
        assert len(cells) == bool(ruled)
        english, korean = cells[0].source.split("**금지된 지름길.**") if cells else ("", "")
        for name in exercises(assignment):
            assert (f"`{name}`" in english) == (f"`{name}`" in korean) == (name in ruled), name


def test_release_names_an_exercise_whose_answer_cell_is_gone(tmp_path, monkeypatch):
    """A suite that grades an exercise the source notebook has no cell for: release says which,
    instead of failing on a list lookup."""
    from grader.operations import release

    shutil.copytree(assignments.SOLUTIONS, tmp_path / "solutions")
    monkeypatch.setattr(assignments, "SOLUTIONS", tmp_path / "solutions")
    a4 = "a4_pooling"
    source = nbformat.read(assignments.source_notebook(a4), as_version=4)
    source.cells = [c for c in source.cells if notebook.grade_id(c) != "pool2d"]
    nbformat.write(source, assignments.source_notebook(a4))
    with pytest.raises(release.ReleaseError, match="its suite grades `pool2d`, but the notebook has no cell"):
        release.sync_with_suite(a4)


def _shortcuts_cells(nb):
    return [c for c in nb.cells if c.metadata.get("convgrade") == "shortcuts"]


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


@pytest.mark.parametrize("assignment", AUTHORED)
def test_released_notebook_holds_no_solution_code(assignment):
    released = nbformat.read(assignments.released_notebook(assignment), as_version=4)
    text = "\n".join(cell.source for cell in released.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    for cid, solution in reference_answers(assignment).items():
        stub = _cell(released, cid).source
        for line in _solution_lines(assignment, cid):
            assert line not in stub, f"{assignment}/{cid} leaks solution line {line!r}"


@pytest.mark.parametrize("assignment", AUTHORED)
def test_every_released_stub_raises_not_implemented(assignment):
    released = nbformat.read(assignments.released_notebook(assignment), as_version=4)
    for cid in exercises(assignment):
        stub = _cell(released, cid).source
        assert "raise NotImplementedError()" in stub, f"{assignment}/{cid} has no stub"
        assert _solution_lines(assignment, cid), f"{assignment}/{cid} has no solution block"


@pytest.mark.parametrize("assignment", AUTHORED)
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


@pytest.mark.parametrize("assignment", AUTHORED)
def test_hidden_test_cells_carry_the_suite_points(assignment):
    from grader.engine import runner

    checks = runner.collect_checks(assignment)
    source = nbformat.read(assignments.source_notebook(assignment), as_version=4)
    hidden = {notebook.grade_id(c).removeprefix("hidden_"): c.metadata["nbgrader"]["points"]
              for c in source.cells if (notebook.grade_id(c) or "").startswith("hidden_")}
    expected = {e: sum(c["max_score"] for c in checks if c["exercise"] == e) for e in exercises(assignment)}
    assert hidden == expected, "run `convgrade release` to sync points from the suite"
