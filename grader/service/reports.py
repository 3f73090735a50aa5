"""What the instructor reads: the gradebook, score histograms and per-test pass rates.

Each counts a student's best graded submission per assignment, by credited score
(score x late credit, grader.deadlines).
"""

import csv
import io
import re
from collections import defaultdict

from grader import assignments, deadlines

from flask import current_app
from sqlalchemy import select

from grader.service.db import Student, Submission

HISTOGRAM_BINS = 10


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


def gradebook_csv():
    with current_app.config["SESSIONS"]() as session:
        names = {s.student_id: s.name for s in session.scalars(select(Student))}
        counts = defaultdict(int)
        for submission in session.scalars(select(Submission)):
            counts[submission.student_id, submission.assignment] += 1
    out = io.StringIO()
    writer = csv.writer(out)
    # `score` is the credited score (what counts); `raw_score` and `credit` show how it came about
    writer.writerow(["student_id", "name", "assignment", "score", "max_score", "raw_score", "credit",
                     "submissions", "best_submission_id", "submitted_at"])
    for (student, assignment), submission in sorted(best_submissions().items()):
        result = submission.result
        submitted = submission.submitted_at or submission.created_at
        writer.writerow([student, names.get(student, ""), assignment, counted(submission), result["max_score"],
                         result["score"], submission.credit, counts[student, assignment], submission.id,
                         submitted.isoformat() + "Z"])
    return out.getvalue()


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
    bins = [0] * HISTOGRAM_BINS
    for score in scores:
        fraction = score / max_score if max_score else 1.0
        bins[min(int(fraction * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)] += 1
    width = max_score / HISTOGRAM_BINS
    return [{"low": i * width, "high": (i + 1) * width, "count": count} for i, count in enumerate(bins)]


def _pass_rates(results):
    """Each test's pass rate over students, hardest first."""
    tally = {}
    for result in results:
        for test in result.get("tests", []):
            entry = tally.setdefault(test["number"], {"number": test["number"], "name": test["name"],
                                                      "exercise": test.get("exercise", ""),
                                                      "passed": 0, "total": 0})
            entry["total"] += 1
            entry["passed"] += test["status"] == "passed"
    return [{**e, "rate": e["passed"] / e["total"]} for e in tally.values()]


def _notebook_order(assignment):
    """Sort key: the exercise's place in the notebook, then the check number read naturally
    (corr2d.2 before corr2d.10)."""
    from grader import notebook

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
