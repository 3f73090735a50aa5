"""What the instructor reads: the gradebook, score histograms and per-test pass rates.

Each counts a student's best graded submission per assignment.
"""

import csv
import io
from collections import defaultdict

from flask import current_app
from sqlalchemy import select

from grader.service.db import Student, Submission

HISTOGRAM_BINS = 10


def best_submissions():
    """{(student_id, assignment): the graded submission with the highest score}."""
    with current_app.config["SESSIONS"]() as session:
        done = session.scalars(select(Submission).where(Submission.status == "done")
                               .order_by(Submission.created_at))
        best = {}
        for submission in done:
            key = (submission.student_id, submission.assignment)
            if key not in best or submission.result["score"] > best[key].result["score"]:
                best[key] = submission
    return best


def gradebook_csv():
    with current_app.config["SESSIONS"]() as session:
        names = {s.student_id: s.name for s in session.scalars(select(Student))}
        counts = defaultdict(int)
        for submission in session.scalars(select(Submission)):
            counts[submission.student_id, submission.assignment] += 1
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student_id", "name", "assignment", "score", "max_score", "submissions",
                     "best_submission_id", "submitted_at"])
    for (student, assignment), submission in sorted(best_submissions().items()):
        result = submission.result
        writer.writerow([student, names.get(student, ""), assignment, result["score"], result["max_score"],
                         counts[student, assignment], submission.id, submission.created_at.isoformat() + "Z"])
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
            "tests": _pass_rates(results)}


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
                                                      "passed": 0, "total": 0})
            entry["total"] += 1
            entry["passed"] += test["status"] == "passed"
    rates = [{**e, "rate": e["passed"] / e["total"]} for e in tally.values()]
    return sorted(rates, key=lambda e: (e["rate"], e["number"]))
