"""The JSON API of docs/reference.md (blueprint "api")."""

from flask import Blueprint, Response, abort, current_app, jsonify, request

from sqlalchemy import text

from grader.course import assignments, deadlines, feedback
from grader.doors.service import reports, submissions
from grader.doors.service.auth import bearer_identity, require_admin

bp = Blueprint("api", __name__)


@bp.get("/healthz")
def healthz():
    settings = current_app.config["SETTINGS"]
    try:
        with current_app.config["SESSIONS"]() as session:
            session.execute(text("SELECT 1"))
        writable = settings.submissions_dir.is_dir() and (settings.submissions_dir.stat().st_mode & 0o200)
    except Exception as exc:
        return jsonify({"status": "unavailable", "error": f"the database cannot be reached: {exc}"}), 503
    if not writable:
        return jsonify({"status": "unavailable", "error": "the submissions folder is not writable"}), 503
    return jsonify({"status": "ok", "assignments": assignments.names()})


@bp.post("/api/v1/submissions")
def create_submission():
    identity = bearer_identity()
    wait = _wait_seconds()
    submission = submissions.accept(identity, request.files.get("notebook"), request.form.get("assignment"))
    if wait:
        submission = submissions.wait_for(identity, submission.id, wait)
    finished = submission.status in ("done", "error")
    body = _with_history(submission) if finished else {"id": submission.id, "status": submission.status}
    return jsonify(body), 200 if finished else 202


@bp.get("/api/v1/submissions")
def list_submissions():
    identity = bearer_identity()
    found = submissions.listing(identity, request.args.get("assignment"))
    return jsonify({"submissions": [s.to_json(with_result=False) for s in found]})


@bp.get("/api/v1/submissions/<submission_id>")
def get_submission(submission_id):
    identity = bearer_identity()
    wait = _wait_seconds()
    if wait:
        return jsonify(_with_history(submissions.wait_for(identity, submission_id, wait)))
    return jsonify(_with_history(submissions.visible_submission(identity, submission_id)))


def _with_history(submission):
    from grader.operations.regrade import history

    with current_app.config["SESSIONS"]() as session:
        body = in_notebook_order(with_group_comments(session, submission.to_json(
            history=history(session, submission.id))))
        # the windows that decided this submission's credit: the student's own (extension applied)
        body["deadlines"] = _deadlines_json(
            deadlines.effective(submission.assignment, submission.student_id, session), deadlines.now())
    return body


def with_group_comments(session, body):
    """The result and each earlier one with its mistake group's comment, read now: a comment
    written after the grading reaches it (grader.operations.groups)."""
    from grader.operations import groups

    past = body.get("history", [])
    current, *earlier = groups.with_comments(session, body["assignment"],
                                             [body.get("result")] + [h["result"] for h in past])
    if "result" in body:
        body["result"] = current
    if "history" in body:
        body["history"] = [{**h, "result": r} for h, r in zip(past, earlier)]
    return body


def in_notebook_order(body):
    """A finished submission's checks in notebook order, failures first within each exercise,
    and `exercises`: the same checks grouped, with each exercise's points (grader.course.feedback)."""
    result = body.get("result")
    if result:
        order = feedback.assignment_order(body.get("assignment"))
        body["result"] = feedback.in_notebook_order(result, order)
        body["exercises"] = feedback.grouped(result, order)
    return body


@bp.get("/api/v1/assignments")
def list_assignments():
    """Each assignment with its deadlines: a student's own (extensions applied) with their token."""
    from grader.engine.grading import max_score  # collects the hidden suites: imports torch

    student = _optional_student()
    now = deadlines.now()
    with current_app.config["SESSIONS"]() as session:
        listed = [{"name": name, "max_score": max_score(name),
                   **_deadlines_json(deadlines.effective(name, student, session), now)}
                  for name in assignments.names()]
    return jsonify({"assignments": listed})


def _optional_student():
    """The student whose token came with the request, if any (no token: course-wide deadlines)."""
    if not request.headers.get("Authorization"):
        return None
    identity = bearer_identity()
    return None if identity.is_admin else identity.student_id


def _deadlines_json(found, now):
    if found is None:
        return {"opens": None, "due": None, "late": [], "extended": False, "credit_now": 1.0, "open_now": True}
    try:
        credit = found.credit_at(now)
    except deadlines.Refused:
        credit = None
    return {**found.to_json(), "credit_now": credit, "open_now": credit is not None}


@bp.get("/api/v1/gradebook.csv")
def gradebook():
    require_admin(bearer_identity())
    return gradebook_response()


def gradebook_response():
    """The gradebook CSV (?layout=long|wide); a suite changed since the release is named in
    X-Convgrade-Warning (the course home shows the same sentences beside its link)."""
    layout = request.args.get("layout", "long")
    if layout not in ("long", "wide"):
        abort(400, f"layout must be long or wide, not {layout!r}")
    response = Response(reports.gradebook_csv(layout), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=gradebook{'-wide' if layout == 'wide' else ''}.csv"})
    warnings = reports.suite_warnings()
    if warnings:
        response.headers["X-Convgrade-Warning"] = " | ".join(warnings)
    return response


def _wait_seconds():
    raw = request.args.get("wait")
    if raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        abort(400, f"wait must be a number of seconds, not {raw!r}")
    if not 0 <= seconds <= current_app.config["SETTINGS"].max_wait_seconds:
        abort(400, f"wait must be between 0 and {current_app.config['SETTINGS'].max_wait_seconds:g} seconds")
    return seconds
