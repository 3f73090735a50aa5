"""Server-rendered pages: the student's upload-and-feedback page and the instructor's overview.

A token pasted into the form signs the browser in (sessions.py: the cookie names a server-side
session, never the token); an LTI launch does the same. The JSON API takes the Authorization
header, or the signed-in browser's session.
"""

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from grader.course import assignments, deadlines, feedback, pictures
from grader.doors.service import instructor as course_home, sessions, submissions
from grader.doors.service.auth import identify, session_identity

bp = Blueprint("pages", __name__)


@bp.app_template_filter("rich_text")
def rich_text(text):
    """A note as the Lab panel shows it: `code` as code, and the line breaks the grader escaped
    (a tensor's rows, a literal backslash-n) as breaks. Every part is escaped first: a note is
    set as text, never as HTML."""
    parts = str(text).replace("\\n", "\n").split("`")
    html = "".join(f"<code>{escape(part)}</code>" if i % 2 else str(escape(part))
                   for i, part in enumerate(parts) if part)
    return Markup(html.replace("\n", "<br>"))


def _page_identity():
    """The signed-in browser's identity (token form or LTI launch), or None."""
    return session_identity()


@bp.get("/")
def index():
    identity = _page_identity()
    if identity is None:
        return render_template("login.html")
    return _index_page(identity)


def _index_page(identity, error=None, status=200):
    return render_template("index.html", identity=identity, assignments=assignments.names(),
                           submissions=submissions.listing(identity, limit=50), error=error,
                           schedule=_schedule(identity), human=deadlines.human), status


def _schedule(identity, names=None):
    """Each assignment's deadlines as this student sees them (their extension applied), and
    the credit a submission would earn now."""
    now, rows = deadlines.now(), []
    student = None if identity.is_admin else identity.student_id
    with current_app.config["SESSIONS"]() as session:
        for name in assignments.names() if names is None else names:
            found = deadlines.effective(name, student, session)
            try:
                credit, refusal = (found.credit_at(now) if found else 1.0), None
            except deadlines.Refused as exc:
                credit, refusal = None, str(exc)
            rows.append({"assignment": name, "deadlines": found, "credit": credit, "refusal": refusal})
    return rows


@bp.post("/login")
def login():
    token = request.form.get("token", "").strip()
    identity = identify(token)
    if identity is None:
        return render_template("login.html", error="That token is not valid."), 401
    sessions.sign_in(identity.student_id, is_admin=identity.is_admin, credential=token)
    return redirect(url_for("pages.instructor" if identity.is_admin else "pages.index"), code=303)


@bp.post("/logout")
def logout():
    sessions.sign_out()
    return redirect(url_for("pages.index"), code=303)


@bp.post("/submit")
def submit():
    identity = _page_identity()
    if identity is None:
        return render_template("login.html", error="Paste your token first."), 401
    try:
        submission = submissions.accept(identity, request.files.get("notebook"), request.form.get("assignment"))
    except HTTPException as exc:
        return _index_page(identity, error=exc.description, status=exc.code)
    return redirect(url_for("pages.submission_page", submission_id=submission.id), code=303)


@bp.get("/submissions/<submission_id>")
def submission_page(submission_id):
    identity = _page_identity()
    if identity is None:
        return render_template("login.html", error="Paste your token to see this submission."), 401
    from grader.operations.regrade import history

    from grader.operations.groups import with_comments

    submission = submissions.visible_submission(identity, submission_id)
    with current_app.config["SESSIONS"]() as session:
        earlier = history(session, submission.id)
        # the instructor's comment on the mistake group, read now (grader.operations.groups)
        result, = with_comments(session, submission.assignment, [submission.result])
    order = feedback.assignment_order(submission.assignment)
    schedule = _schedule(identity, [submission.assignment]) if result else []
    return render_template("submission.html", submission=submission, result=result,
                           exercises=feedback.grouped(result, order), credit_words=feedback.credit_words,
                           schedule=schedule[0] if schedule else None, human=deadlines.human,
                           history=earlier, identity=identity, picture=pictures.picture)


@bp.get("/instructor")
def instructor():
    identity = _page_identity()
    if identity is None or not identity.is_admin:
        return render_template("login.html", error="The instructor page needs the instructor's token.",
                               instructor=True), 403 if identity else 401
    return course_home.instructor_page(identity)
