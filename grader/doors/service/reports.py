"""What the instructor reads: the gradebook, score histograms and per-test pass rates.

Each counts a student's best graded submission per assignment, by credited score
(score x late credit, grader.course.deadlines).
"""

import io
import math
import re
from collections import defaultdict

from grader.course import assignments, deadlines

from flask import current_app
from sqlalchemy import select

from grader.doors.service.auth import INSTRUCTOR
from grader.store import csvfile
from grader.store.db import Student, Submission

HISTOGRAM_BINS = 10   # about this many bins, each a whole number of points wide


def best_submissions():
    """{(student_id, assignment): the graded submission with the highest credited score}."""
    with current_app.config["SESSIONS"]() as session:
        done = session.scalars(select(Submission).where(Submission.status == "done")
                               .order_by(Submission.created_at))
        best = {}
        for submission in done:
            key = (submission.student_id, submission.assignment)
            if key not in best or counted(submission) > counted(best[key]):
                best[key] = submission
    return best


def counted(submission):
    """The score that counts: credited (late credit applied)."""
    credited = deadlines.credited(submission)
    return credited if credited is not None else 0.0


def roster():
    """{student_id: name} of every student the course knows: the roster (tokens), and anyone
    else who has submitted (signed in through the LMS or JupyterHub); never the instructor."""
    with current_app.config["SESSIONS"]() as session:
        known = {s.student_id: s.name for s in session.scalars(select(Student))}
        for student_id in session.scalars(select(Submission.student_id).distinct()):
            known.setdefault(student_id, "")
    known.pop(INSTRUCTOR, None)
    return dict(sorted(known.items()))


def gradebook_rows():
    """One row per student on the roster and assignment: the counted submission's credited
    score, or 0 with status `not submitted` (or `not graded` while none is graded yet)."""
    with current_app.config["SESSIONS"]() as session:
        counts = defaultdict(int)
        for student, assignment in session.execute(select(Submission.student_id, Submission.assignment)):
            counts[student, assignment] += 1
    best, rows = best_submissions(), []
    max_score = _max_scores(best)
    for student, name in roster().items():
        for assignment in assignments.names():
            submission = best.get((student, assignment))
            row = {"student_id": student, "name": name, "assignment": assignment, "score": 0.0,
                   "max_score": max_score[assignment], "raw_score": "", "credit": "",
                   "submissions": counts[student, assignment],
                   "status": "not graded" if counts[student, assignment] else "not submitted",
                   "best_submission_id": "", "submitted_at": ""}
            if submission is not None:
                submitted = submission.submitted_at or submission.created_at
                row.update(score=counted(submission), max_score=submission.result["max_score"],
                           raw_score=submission.result["score"], credit=submission.credit, status="graded",
                           best_submission_id=submission.id, submitted_at=submitted.isoformat() + "Z")
            rows.append(row)
    return rows


def _max_scores(best):
    """Each assignment's max_score: what its graded results were out of, else the points its
    released notebook states (no suite is collected in the web process for this)."""
    from grader.operations.gradebook import released_points

    found = {assignment: submission.result["max_score"] for (_, assignment), submission in best.items()}
    return {a: found[a] if a in found else sum(released_points(a).values()) for a in assignments.names()}


def gradebook_csv(layout="long"):
    """The gradebook: `long`, one row per student and assignment (`score` is the credited
    score; `raw_score` and `credit` show how it came about), or `wide`, one row per student."""
    rows = gradebook_rows()
    out = io.StringIO()
    if layout == "wide":
        names = assignments.names()
        writer = csvfile.Writer(out, lineterminator="\n")
        writer.writerow(["student_id", "name", *names, "total", "max_total"])
        by_student = defaultdict(dict)
        for row in rows:
            by_student[row["student_id"], row["name"]][row["assignment"]] = row
        for (student, name), mine in by_student.items():
            scores = [mine[a]["score"] for a in names]
            writer.writerow([student, name, *scores, round(sum(scores), 6),
                             sum(mine[a]["max_score"] for a in names)])
        return out.getvalue()
    writer = csvfile.DictWriter(out, fieldnames=["student_id", "name", "assignment", "score", "max_score", "raw_score",
                                             "credit", "submissions", "status", "best_submission_id",
                                             "submitted_at"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def suite_warnings():
    """Sentences for each assignment whose counted results were graded out of other points
    than its released notebook states (grader.operations.gradebook.points_warnings)."""
    from grader.operations.gradebook import points_warnings

    by_assignment = defaultdict(list)
    for (_, assignment), submission in best_submissions().items():
        by_assignment[assignment].append(submission.result)
    return [w for name, results in sorted(by_assignment.items()) for w in points_warnings(name, results)]


def assignment_reports():
    """Per assignment: students graded, max score, a score histogram and each test's pass rate."""
    by_assignment = defaultdict(list)
    for (_, assignment), submission in best_submissions().items():
        by_assignment[assignment].append(submission.result)
    return [_report(assignment, results) for assignment, results in sorted(by_assignment.items())]


def _report(assignment, results):
    max_score = max(r["max_score"] for r in results)
    return {"assignment": assignment, "students": len(results), "max_score": max_score,
            "mean": sum(r["score"] for r in results) / len(results),
            "histogram": _histogram([r["score"] for r in results], max_score),
            "tests": sorted(_pass_rates(results), key=_notebook_order(assignment))}


def _histogram(scores, max_score):
    """Bins a whole number of points wide, each labelled by the whole points it holds
    (`low`-`high`, both counted); the last bin is closed at max_score."""
    width = max(1, math.ceil(max_score / HISTOGRAM_BINS))
    count = max(1, math.ceil(max_score / width))
    bins = [0] * count
    for score in scores:
        bins[min(max(int(score // width), 0), count - 1)] += 1
    return [{"low": i * width, "high": max_score if i == count - 1 else (i + 1) * width - 1, "count": n}
            for i, n in enumerate(bins)]


def _pass_rates(results):
    """Each test's pass rate over students, hardest first."""
    tally = {}
    for result in results:
        for test in result.get("tests", []):
            entry = tally.setdefault(test["number"], {"number": test["number"], "name": test["name"],
                                                      "id": test.get("id") or test["number"],
                                                      "exercise": test.get("exercise", ""),
                                                      "passed": 0, "total": 0})
            entry["total"] += 1
            entry["passed"] += test["status"] == "passed"
    return [{**e, "rate": e["passed"] / e["total"]} for e in tally.values()]


def _notebook_order(assignment):
    """Sort key: the exercise's place in the notebook, then the check number read naturally
    (corr2d.2 before corr2d.10)."""
    from grader.course import notebook

    try:
        import nbformat

        source = nbformat.read(assignments.source_notebook(assignment), as_version=4)
        order = [notebook.grade_id(c) for c in source.cells if notebook.grade_id(c)]
    except OSError:
        order = []

    def key(test):
        exercise = test["exercise"]
        place = order.index(exercise) if exercise in order else len(order)
        return place, natural_key(test["number"])
    return key


def natural_key(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
