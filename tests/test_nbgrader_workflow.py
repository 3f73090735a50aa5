"""The instructor's nbgrader workflow end to end, on a small generated course in a temp dir.

generate_assignment -> submitted/<student>/<assignment>/ -> `nbgrader autograde` and
`convgrade grade` on the same tree -> identical per-exercise points wherever nbgrader
produced a grade -> `convgrade grade --gradebook` into nbgrader's database, read back with
nbgrader's Gradebook -> HTML feedback without hidden test source.

What nbgrader 0.9.6 does with broken structure (recorded by the tests below):
- an answer cell deleted: graded; that exercise's hidden cell scores 0 (as convgrade);
- an answer cell duplicated: refused with a misleading "old version of the nbgrader
  metadata format" error, all its grades left empty; in a batch run it also aborts the
  autograding of every student after it (convgrade runs every copy, as Run All does, and
  the last one counts);
- an answer cell changed to markdown: nbgrader turns it back into a code cell and grades
  the text; convgrade does the same, with a note.
"""

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from markupsafe import escape

from submissions import CorpusEntry, CORPUS, make_submission

ROOT = Path(__file__).resolve().parent.parent
A1 = "a1_cross_correlation"
HIDDEN_SOURCE_MARKERS = ("score_exercise(", "@check(", "BEGIN HIDDEN", "def test_", "nbgrader_bridge")


def _corpus(*names):
    answers = {}
    for name in names:
        answers.update(CorpusEntry(CORPUS / A1 / f"{name}.py").answers)
    return make_submission(A1, answers)


def _edit(fn):
    nb = nbformat.reads(make_submission(A1).decode(), as_version=4)
    fn(nb)
    return nbformat.writes(nb).encode()


def _at(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _delete(nb):
    del nb.cells[_at(nb, "learn_edge_kernel")]


def _duplicate(nb):
    """The corr2d cell copied below itself (as Jupyter's copy and paste does: same metadata, new id);
    the first copy holds a wrong answer, the second the right one."""
    i = _at(nb, "corr2d")
    second = copy.deepcopy(nb.cells[i])
    second.id = uuid.uuid4().hex[:8]
    nb.cells[i].source = CorpusEntry(CORPUS / A1 / "corr2d_flipped_kernel.py").answers["corr2d"]
    nb.cells.insert(i + 1, second)


def _to_markdown(nb):
    i = _at(nb, "learn_edge_kernel")
    cell = nb.cells[i]
    nb.cells[i] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata, id=cell.id)


SUBMISSIONS = {
    "correct": lambda: make_submission(A1),
    "partly_corr2d": lambda: _corpus("corr2d_flipped_kernel"),
    "partly_conv_learn": lambda: _corpus("conv2d_scalar_bias", "learn_no_zero_grad"),
    "stubs": lambda: make_submission(A1, reference=False),
    "deleted_cell": lambda: _edit(_delete),
    "markdown_cell": lambda: _edit(_to_markdown),
    # correct notebooks written differently (issue 10): cells the student added, a torch.rand start
    "correct_added_cells": lambda: CorpusEntry(CORPUS / A1 / "correct_d2l_added_cells.py").submission(),
    "correct_rand_start": lambda: CorpusEntry(CORPUS / A1 / "correct_learn_rand_start.py").submission(),
}
DUPLICATED = "duplicated_cell"   # added after the batch run: nbgrader would abort the batch on it


def _env():
    return {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}


def _nbgrader(course, *args):
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=ERROR"],
                          cwd=course, env=_env(), capture_output=True, text=True, timeout=600)


def _put(course, student, raw):
    folder = course / "submitted" / student / A1
    folder.mkdir(parents=True)
    (folder / f"{A1}.ipynb").write_bytes(raw)


def _scores(db_url, student):
    """{exercise: auto_score} of a student's hidden cells in nbgrader's gradebook (None: no submission)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(A1, A1, student)
        except MissingEntry:
            return None
        return {g.name.removeprefix("hidden_"): g.auto_score for g in notebook.grades
                if g.name.startswith("hidden_")}


def _points(result):
    points = {}
    for test in result["tests"]:
        points[test["exercise"]] = points.get(test["exercise"], 0.0) + test["score"]
    return points


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    db_url = f"sqlite:///{course / 'gradebook.db'}"

    run = _nbgrader(course, "generate_assignment", A1)
    assert run.returncode == 0, run.stderr[-3000:]
    for student, make in SUBMISSIONS.items():
        _put(course, student, make())
    run = _nbgrader(course, "autograde", A1, "--create")
    assert run.returncode == 0, run.stderr[-3000:]

    _put(course, DUPLICATED, _edit(_duplicate))
    duplicated = _nbgrader(course, "autograde", A1, "--student", DUPLICATED)
    nbgrader = {s: _scores(db_url, s) for s in [*SUBMISSIONS, DUPLICATED]}

    run = subprocess.run(
        [sys.executable, "-m", "grader.cli", "grade", "submitted", "--jobs", "2", "--json",
         "--out", "grades.csv", "--feedback", "feedback", "--gradebook", "sqlite:///gradebook.db",
         "--export", "nbgrader_grades.csv"],
        cwd=course, env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    convgrade = {r["student"]: r for r in json.loads(run.stdout)}
    return {"dir": course, "db_url": db_url, "nbgrader": nbgrader, "convgrade": convgrade,
            "duplicated_run": duplicated}


@pytest.mark.parametrize("student", [s for s in SUBMISSIONS if s != DUPLICATED])
def test_nbgrader_and_convgrade_give_the_same_points_per_exercise(course, student):
    nbgrader = course["nbgrader"][student]
    assert nbgrader is not None and None not in nbgrader.values(), f"nbgrader did not grade {student}"
    assert _points(course["convgrade"][student]) == nbgrader


def test_the_course_spans_full_partial_and_zero_scores(course):
    results = course["convgrade"]
    assert results["correct"]["score"] == results["correct"]["max_score"] > 0
    assert 0 < results["partly_corr2d"]["score"] < results["partly_corr2d"]["max_score"]
    assert 0 < results["partly_conv_learn"]["score"] < results["partly_conv_learn"]["max_score"]
    assert results["stubs"]["score"] == 0


def test_nbgrader_refuses_a_duplicated_answer_cell_and_convgrade_counts_the_last_copy(course):
    run = course["duplicated_run"]
    assert run.returncode != 0 and "use an old version" in run.stderr and "nbgrader update" in run.stderr
    assert set(course["nbgrader"][DUPLICATED].values()) == {None}   # a submission row with no grades

    result = course["convgrade"][DUPLICATED]
    full = _points(course["convgrade"]["correct"])  # the second copy is the fixed one: Run All's corr2d
    assert result["gradable"] and _points(result) == full
    assert any("`corr2d` appears 2 times" in n and "the last one" in n for n in result["notes"]), result["notes"]


def test_deleted_and_markdown_answer_cells(course):
    nbgrader, convgrade = course["nbgrader"], course["convgrade"]
    full = _points(convgrade["correct"])
    assert nbgrader["deleted_cell"] == {**full, "learn_edge_kernel": 0.0}
    assert nbgrader["markdown_cell"] == full       # nbgrader ran the markdown text as code
    deleted, markdown = convgrade["deleted_cell"], convgrade["markdown_cell"]
    assert deleted["gradable"] and _points(deleted) == {**full, "learn_edge_kernel": 0.0}
    assert any("`learn_edge_kernel` is missing" in n for n in deleted["notes"])
    assert markdown["gradable"] and _points(markdown) == full
    assert any("`learn_edge_kernel` was turned into markdown" in n for n in markdown["notes"])


def test_the_gradebook_reads_back_convgrade_scores(course):
    for student, result in course["convgrade"].items():
        assert _scores(course["db_url"], student) == _points(result), student

    from nbgrader.api import Gradebook
    with Gradebook(course["db_url"]) as gradebook:
        for student, result in course["convgrade"].items():
            assert gradebook.find_submission(A1, student).score == pytest.approx(result["score"])

    exported = {r["student_id"]: r for r in csv.DictReader((course["dir"] / "nbgrader_grades.csv").open())}
    assert set(exported) == set(course["convgrade"])
    for student, result in course["convgrade"].items():
        assert float(exported[student]["score"]) == pytest.approx(result["score"])
        assert float(exported[student]["max_score"]) == pytest.approx(result["max_score"])
    plain = {r["student"]: r for r in csv.DictReader((course["dir"] / "grades.csv").open())}
    assert {s: float(r["score"]) for s, r in plain.items()} == \
        {s: float(r["score"]) for s, r in exported.items()}


def test_feedback_shows_scores_and_failure_messages_but_no_hidden_source(course):
    for student, result in course["convgrade"].items():
        page = (course["dir"] / "feedback" / student / A1 / f"{A1}.html").read_text()
        assert f"{result['score']:g} / {result['max_score']:g}" in page
        for test in result["tests"]:
            assert str(escape(test["name"])) in page
            if test["status"] != "passed" and test["output"]:
                assert str(escape(test["output"])) in page
        for marker in HIDDEN_SOURCE_MARKERS:
            assert marker not in page, (student, marker)
    failed = [t for t in course["convgrade"]["partly_corr2d"]["tests"] if t["status"] != "passed"]
    assert failed and all(t["output"] for t in failed)


def test_feedback_escapes_student_controlled_text():
    from grader.course import feedback

    evil = "<script>alert(1)</script>"
    result = {"assignment": A1, "gradable": True, "score": 0.0, "max_score": 1.0, "notes": [evil],
              "tests": [{"exercise": "corr2d", "name": "n", "number": "corr2d.1", "score": 0.0,
                         "max_score": 1.0, "status": "failed", "output": f"got {evil}"}]}
    page = feedback.render(result, student=evil)
    assert "<script>" not in page and str(escape(evil)) in page


def test_the_gradebook_records_an_assignment_missing_from_the_database(course, tmp_path):
    """No generate_assignment against this database: the notebook and its cells are recorded first."""
    from grader.operations import gradebook

    db_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    results = course["convgrade"]
    gradebook.write(db_url, [(s, A1, Path(r["notebook"]), r) for s, r in results.items()])
    for student, result in results.items():
        assert _scores(db_url, student) == _points(result)
