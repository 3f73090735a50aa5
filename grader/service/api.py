"""The JSON API of CONTRACT.md section 4 (blueprint "api")."""

from flask import Blueprint, Response, abort, current_app, jsonify, request

from sqlalchemy import text

from grader import assignments
from grader.service import reports, submissions
from grader.service.auth import bearer_identity, require_admin

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
    body = submission.to_json() if finished else {"id": submission.id, "status": submission.status}
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
        return jsonify(submissions.wait_for(identity, submission_id, wait).to_json())
    return jsonify(submissions.visible_submission(identity, submission_id).to_json())


@bp.get("/api/v1/assignments")
def list_assignments():
    from grader.grading import max_score  # collects the hidden suites: imports torch

    return jsonify({"assignments": [{"name": name, "max_score": max_score(name)}
                                    for name in assignments.names()]})


@bp.get("/api/v1/gradebook.csv")
def gradebook():
    require_admin(bearer_identity())
    return Response(reports.gradebook_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=gradebook.csv"})


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
