"""convgrade's scores in nbgrader's gradebook database, through nbgrader's own API.

Each exercise has one graded cell `hidden_<exercise>` in the source notebook; its
`auto_score` becomes convgrade's points for that exercise, exactly as `nbgrader autograde`
would store the hidden cell's partial credit, so the formgrader and `nbgrader export`
show convgrade's grades. A grader's manual score is never touched (as in nbgrader, a
grade with one is marked for review).

The assignment, its notebook and grade cells must be in the database. `nbgrader
generate_assignment` (with the course's db_url) puts them there; when they are missing,
they are recorded here from the source notebook with nbgrader's own ComputeChecksums and
SaveCells preprocessors, the ones generate_assignment runs.

Late credit (grader.course.deadlines) becomes nbgrader's own `late_submission_penalty`
(raw score x (1 - credit)), so `nbgrader export` and the formgrader show the credited score
as `score` beside `raw_score`; the assignment's due date and a student's extension are
recorded as nbgrader's `duedate` and `extension`.
"""

import contextlib
import os
import sys
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from grader.course import assignments, deadlines
from grader.course.feedback import exercises

HIDDEN = "hidden_"


class GradebookError(Exception):
    pass


def write(db_url, graded):
    """Store [(student, assignment, notebook_path, result[, credit])]; return the number stored.

    Without a credit, the one course.toml gives the collection time (timestamp.txt)."""
    stored = 0
    with _alembic_on_path(), warnings.catch_warnings(), Gradebook(db_url) as gradebook:
        # nbgrader's own add_submission trips SQLAlchemy's autoflush warnings; they are harmless
        warnings.filterwarnings("ignore", message=".* not in session, add operation along")
        for student, assignment, path, result, *credit in graded:
            if assignment not in assignments.names():
                continue
            notebook = _ensure_notebook(gradebook, db_url, assignment)
            gradebook.update_or_create_student(student)
            timestamp = deadlines.collected_at(Path(path).parent)
            schedule = deadlines.collected(assignment, student, timestamp)
            kwargs = {"timestamp": timestamp} if timestamp else {}
            if schedule.extension:
                kwargs["extension"] = schedule.extension
            if schedule.due:
                gradebook.update_or_create_assignment(assignment, duedate=schedule.due)
            gradebook.update_or_create_submission(assignment, student, **kwargs)
            _store_grades(gradebook, notebook.name, assignment, student, result,
                          credit[0] if credit else schedule.credit)
            stored += 1
    return stored


def _store_grades(gradebook, notebook, assignment, student, result, credit=1.0):
    points = {ex["name"]: ex["score"] for ex in exercises(result)}
    submitted = gradebook.find_submission_notebook(notebook, assignment, student)
    missing = set(points) - {g.name[len(HIDDEN):] for g in submitted.grades if g.name.startswith(HIDDEN)}
    if missing:
        raise GradebookError(f"the gradebook's {assignment} has no grade cell for "
                             f"{', '.join(sorted(HIDDEN + m for m in missing))}; "
                             "run `convgrade release` or `nbgrader generate_assignment` again")
    for grade in submitted.grades:
        if grade.name.startswith(HIDDEN):
            # an ungradable notebook, or an exercise the result does not mention, scores 0
            grade.auto_score = float(points.get(grade.name[len(HIDDEN):], 0.0))
        elif grade.max_score == 0:
            grade.auto_score = 0.0   # the visible check cells: worth nothing, as nbgrader stores them
        else:
            continue
        grade.needs_manual_grade = grade.manual_score is not None
    submitted.flagged = bool(result.get("notes") or not result["gradable"])
    submitted.late_submission_penalty = round(float(result["score"]) * (1.0 - credit), 6)
    gradebook.db.commit()


def _ensure_notebook(gradebook, db_url, assignment):
    """The assignment's notebook in the database, recorded from the source notebook if missing."""
    try:
        return gradebook.find_notebook(assignment, assignment)
    except MissingEntry:
        pass
    import nbformat
    from nbgrader.preprocessors import ComputeChecksums, SaveCells

    gradebook.update_or_create_assignment(assignment)
    nb = nbformat.read(assignments.source_notebook(assignment), as_version=4)
    resources = {"nbgrader": {"db_url": db_url, "assignment": assignment, "notebook": assignment}}
    nb, resources = ComputeChecksums().preprocess(nb, resources)
    SaveCells().preprocess(nb, resources)
    gradebook.db.expire_all()
    return gradebook.find_notebook(assignment, assignment)


@contextlib.contextmanager
def _alembic_on_path():
    """nbgrader creates a new database by running `alembic` from PATH; find it beside this Python."""
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), saved])
    try:
        yield
    finally:
        os.environ["PATH"] = saved


EXPORT_COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                  "raw_score", "late_submission_penalty", "score", "max_score")


def export_csv(db_url, path):
    """The CSV of `nbgrader export` (its CsvExportPlugin's columns and rows: one per assignment
    and student, 0 for no submission), written as data (grader.store.csvfile): the plugin
    writes names unquoted and unneutralised, so a comma or a formula in one would break or
    run in a spreadsheet."""
    from grader.store import csvfile

    with _alembic_on_path(), Gradebook(db_url) as gradebook, open(path, "w", newline="") as f:
        writer = csvfile.DictWriter(f, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for assignment in gradebook.assignments:
            for student in gradebook.students:
                writer.writerow(_export_row(gradebook, assignment, student))


def _export_row(gradebook, assignment, student):
    row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
           "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
           "max_score": assignment.max_score, "timestamp": "", "raw_score": 0.0,
           "late_submission_penalty": 0.0, "score": 0.0}
    try:
        submission = gradebook.find_submission(assignment.name, student.id)
    except MissingEntry:
        pass
    else:
        penalty = submission.late_submission_penalty
        row.update(timestamp=submission.timestamp, raw_score=submission.score, late_submission_penalty=penalty,
                   score=max(0.0, submission.score - penalty))
    return {key: "" if value is None else value for key, value in row.items()}


def released_points(assignment):
    """{exercise: points} that the released notebook (and nbgrader's gradebook, recorded from
    it by generate_assignment) states on each hidden_<exercise> cell; {} without one."""
    import nbformat

    from grader.course import notebook

    try:
        released = nbformat.read(assignments.released_notebook(assignment), as_version=4)
    except OSError:
        return {}
    return {notebook.grade_id(c)[len(HIDDEN):]: float(c.metadata["nbgrader"].get("points") or 0)
            for c in released.cells if (notebook.grade_id(c) or "").startswith(HIDDEN)}


def points_warnings(assignment, results):
    """A sentence when `results` were graded out of other points than the released notebook
    states: the hidden suite changed after the release, so a score can exceed the max_score
    the students' notebooks (and nbgrader's gradebook) show. [] when they agree."""
    stated = released_points(assignment)
    graded = {}
    for result in results:
        if result.get("gradable") and result.get("tests"):
            graded = {ex["name"]: ex["max_score"] for ex in exercises(result)}
            if any(abs(stated.get(ex, 0) - graded.get(ex, 0)) > 1e-9 for ex in {*stated, *graded}):
                break
    changed = [f"{ex} {stated.get(ex, 0):g} -> {graded.get(ex, 0):g}" for ex in dict.fromkeys([*stated, *graded])
               if abs(stated.get(ex, 0) - graded.get(ex, 0)) > 1e-9]
    if not stated or not graded or not changed:
        return []
    return [f"{assignment}: the hidden suite changed after the notebooks were released (points "
            f"{', '.join(changed)}; {sum(stated.values()):g} -> {sum(graded.values()):g} in all), so scores are "
            "out of a total the students' notebooks do not show; run `convgrade release` and release the "
            "notebooks again, or revert the suite"]
