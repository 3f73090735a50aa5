"""The instructor's course home (blueprint "instructor"): deadlines and extensions, regrades,
similarity, mistake groups, their comments and the hints made of them.

Every route needs a browser signed in with the instructor's token (sessions.py; its CSRF rule
holds for every form here). The forms post here and redirect back with a one-line message;
grading stays in the queue. Regrading many submissions and replacing a token ask first.
"""

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from grader.course import assignments, deadlines
from grader.doors.service import reports, sessions, submissions
from grader.doors.service.auth import INSTRUCTOR, session_identity
from grader.operations import groups, hints, regrade
from grader.store.db import Extension

bp = Blueprint("instructor", __name__, url_prefix="/instructor")


def _require_instructor():
    identity = session_identity()
    if identity is None or not identity.is_admin:
        abort(403, "only the instructor's token may do this")
    return identity


def instructor_page(identity, new_token=None):
    """The course home, for the instructor's `identity` (with a reissued token shown once)."""
    return render_template("instructor.html", reports={r["assignment"]: r for r in reports.assignment_reports()},
                           submissions=submissions.listing(identity, limit=500), identity=identity,
                           new_token=new_token, **home_context())


def home_context():
    """What the course home shows besides the reports and the submissions list."""
    sessions = current_app.config["SESSIONS"]
    with sessions() as session:
        extensions = list(session.scalars(select(Extension).order_by(Extension.assignment, Extension.student_id)))
    course = _course_or_error()
    schedule = [{"assignment": name, "deadlines": course.get(name),
                 "extensions": [{"student_id": e.student_id, **_shifted(course.get(name), e)}
                                for e in extensions if e.assignment == name]}
                for name in assignments.names()]
    with sessions() as session:
        mistakes = {name: groups.groups(session, name, leave_out=(INSTRUCTOR,)) for name in assignments.names()}
    return {"schedule": schedule, "changes": regrade.changes(sessions), "message": request.args.get("message"),
            "mistakes": mistakes,
            "config_path": deadlines.config_path(), "human": deadlines.human,
            "roster": roster_view(), "suite_warnings": reports.suite_warnings(), "assignment_names": assignments.names()}


def roster_view():
    """Every student the course knows, with each assignment's state: the counted score, or
    what stands in its way (not submitted, queued, could not be graded)."""
    from grader.store.db import Submission

    best = reports.best_submissions()
    with current_app.config["SESSIONS"]() as session:
        latest = {}
        for row in session.scalars(select(Submission).order_by(Submission.created_at)):
            latest[row.student_id, row.assignment] = row
    students = []
    for student, name in reports.roster().items():
        states = {}
        for assignment in assignments.names():
            counted, last = best.get((student, assignment)), latest.get((student, assignment))
            if counted is not None:
                states[assignment] = {"state": "graded", "text": f"{reports.counted(counted):g} / "
                                      f"{counted.result['max_score']:g}", "id": counted.id}
            elif last is not None:
                states[assignment] = {"state": last.status, "text": last.status, "id": last.id}
            else:
                states[assignment] = {"state": "missing", "text": "not submitted", "id": None}
        students.append({"student_id": student, "name": name, "assignments": states})
    return students


def _course_or_error():
    try:
        return deadlines.course()
    except deadlines.ConfigError:
        return {}


def _shifted(base, extension):
    moved = base.with_due(deadlines.from_db(extension.due)) if base else None
    return {"due": moved.due if moved else deadlines.from_db(extension.due),
            "closes": moved.closes if moved else None}


@bp.post("/extensions")
def add_extension():
    _require_instructor()
    student, assignment = request.form.get("student", "").strip(), request.form.get("assignment", "")
    try:
        if not student:
            raise ValueError("name the student who gets the extension")
        due = deadlines.parse_time(request.form.get("due", ""), "the new due date")
        with current_app.config["SESSIONS"]() as session:
            moved = deadlines.extend(session, student, assignment, due)
    except (ValueError, deadlines.ConfigError) as exc:
        return _back(str(exc))
    return _back(f"{student} now has {assignment} due {deadlines.human(moved.due)}")


@bp.post("/extensions/remove")
def remove_extension():
    _require_instructor()
    student, assignment = request.form.get("student", ""), request.form.get("assignment", "")
    try:
        with current_app.config["SESSIONS"]() as session:
            deadlines.remove_extension(session, student, assignment)
    except deadlines.ConfigError as exc:
        return _back(str(exc))
    return _back(f"{student}'s extension of {assignment} is removed; the course's deadlines apply again")


@bp.post("/roster/token")
def reissue_token():
    """A new token for one rostered student (the old one stops working), shown once."""
    from grader.store.db import Student, hash_token, new_token

    identity = _require_instructor()
    student_id = request.form.get("student", "")
    with current_app.config["SESSIONS"]() as session:
        student = session.get(Student, student_id)
        if student is None:
            return _back(f"{student_id} is not on the roster: import them with `convgrade students import`")
        if not request.form.get("confirmed"):
            return _confirm(f"Give {student_id} a new token? Their current token stops working at once.",
                            "instructor.reissue_token", "New token", student=student_id)
        token = new_token()
        student.token_hash = hash_token(token)
        session.commit()
    sessions.end_sessions_of(student_id)
    # rendered, not redirected: a token never travels in a URL
    return instructor_page(identity, new_token={"student_id": student_id, "token": token})


@bp.get("/gradebook.csv")
def gradebook_download():
    """The gradebook for the signed-in instructor's browser (the API takes a bearer token)."""
    from grader.doors.service.api import gradebook_response

    _require_instructor()
    return gradebook_response()


@bp.post("/regrade")
def regrade_now():
    _require_instructor()
    form = request.form
    if not form.get("submission") and not form.get("confirmed"):
        return _confirm(f"Regrade every finished submission of {form.get('assignment') or 'every assignment'}"
                        f"{' by ' + form['student'] if form.get('student') else ''}"
                        f"{' with fresh hidden inputs' if form.get('fresh_seed') else ''}? "
                        "Each goes through the queue again; earlier results are kept.",
                        "instructor.regrade_now", "Regrade", **{k: v for k, v in form.items() if k != "csrf_token"})
    chosen = regrade.request(current_app.config["SESSIONS"], current_app.config["QUEUE"],
                             assignment=form.get("assignment") or None, student=form.get("student") or None,
                             submission_id=form.get("submission") or None, fresh_seed=bool(form.get("fresh_seed")))
    return _back(f"queued {len(chosen)} submission(s) for regrading; changed scores appear below when graded")


@bp.get("/groups/<assignment>")
def mistake_groups(assignment):
    """The assignment's wrong submissions grouped by mistake; ?check=ID: the groups that fail that check."""
    _require_instructor()
    if assignment not in assignments.names():
        abort(404, f"there is no assignment {assignment!r}")
    check = request.args.get("check") or None
    with current_app.config["SESSIONS"]() as session:
        found = groups.groups(session, assignment, leave_out=(INSTRUCTOR,))
    shown = [g for g in found if check is None or check in {c["id"] for c in g["checks"]}]
    return render_template("groups.html", assignment=assignment, groups=shown, check=check,
                           wrong=sum(g["count"] for g in found), message=request.args.get("message"))


@bp.post("/groups/comment")
def comment_group():
    """Set the comment of one mistake group (empty: remove it); every submission in the group,
    now and later, reads it with its feedback."""
    identity = _require_instructor()
    assignment, key = _group_form()
    comment = request.form.get("comment", "")
    with current_app.config["SESSIONS"]() as session:
        try:
            groups.write_comment(session, assignment, key, comment, author=identity.student_id)
        except LookupError as exc:
            return _back_to_groups(assignment, str(exc))
    return _back_to_groups(assignment, "the group's comment is saved: its students read it with their feedback"
                           if comment.strip() else "the group's comment is removed")


@bp.post("/groups/regrade")
def regrade_group():
    """Regrade the latest graded submission of each student in one mistake group."""
    _require_instructor()
    assignment, key = _group_form()
    with current_app.config["SESSIONS"]() as session:
        found = {g["key"]: g for g in groups.groups(session, assignment, leave_out=(INSTRUCTOR,))}
    if key not in found:
        return _back_to_groups(assignment, "that mistake group has no submissions any more")
    ids = found[key]["submissions"]
    if not request.form.get("confirmed"):
        return _confirm(f"Regrade the {len(ids)} submission(s) of this {assignment} mistake group? Each goes "
                        "through the queue again; earlier results are kept.",
                        "instructor.regrade_group", "Regrade the group", assignment=assignment, key=key)
    chosen = regrade.request(current_app.config["SESSIONS"], current_app.config["QUEUE"], assignment=assignment,
                             submission_ids=ids)
    return _back_to_groups(assignment, f"queued {len(chosen)} submission(s) for regrading")


@bp.post("/groups/hint")
def hint_from_group():
    """Make a group's comment a permanent hint of its check: first the diff of the suite's hint
    table, then, confirmed, the write of exactly that diff."""
    _require_instructor()
    assignment, key = _group_form()
    with current_app.config["SESSIONS"]() as session:
        try:
            found = hints.proposal(session, assignment, key, leave_out=(INSTRUCTOR,))
        except LookupError as exc:
            return _back_to_groups(assignment, str(exc))
    if not found["diff"]:
        return _back_to_groups(assignment, f"{found['number']} already has this hint")
    if not request.form.get("confirmed"):
        return render_template("confirm.html", question=f"Make this comment the hint of {found['number']} "
                               f"for every later grading? This is the change to the suite's hint table:",
                               diff=found["diff"], action=url_for("instructor.hint_from_group"),
                               button="Write the hint", identity=session_identity(),
                               fields={"assignment": assignment, "key": key, "base": found["base"]})
    try:
        hints.write(assignment, found, request.form.get("base", ""))
    except hints.Stale as exc:
        return _back_to_groups(assignment, str(exc))
    return _back_to_groups(assignment, f"the hint of {found['number']} is written to autograde_tests/{assignment}/"
                           "hints.toml: every later grading shows it; commit it with the suite")


def _group_form():
    assignment, key = request.form.get("assignment", ""), request.form.get("key", "")
    if assignment not in assignments.names():
        abort(400, f"there is no assignment {assignment!r}")
    return assignment, key


def _back_to_groups(assignment, message):
    return redirect(url_for("instructor.mistake_groups", assignment=assignment, message=message), code=303)


@bp.get("/similarity/<assignment>")
def similarity_report(assignment):
    from grader.operations import similarity

    _require_instructor()
    if assignment not in assignments.names():
        abort(404, f"there is no assignment {assignment!r}")
    threshold = _threshold(request.args.get("threshold", "0.3"))
    answers, skipped = stored_answers(assignment)
    pairs = similarity.compare(answers, similarity.released_code(assignment), threshold=threshold) \
        if len(answers) > 1 else []
    return render_template("similarity.html", assignment=assignment, pairs=pairs, threshold=threshold,
                           students=len(answers), skipped=skipped)


def stored_answers(assignment):
    """({student: answer code}, [(student, why it was left out)]) of each student's counted
    submission (grader.doors.service.reports), read from the notebook that was graded. A
    notebook that cannot be read is named and left out: it never hides the other pairs."""
    from grader.operations import similarity

    found, skipped = {}, []
    for (student, name), submission in reports.best_submissions().items():
        if name == assignment and student != INSTRUCTOR:
            try:
                found[student] = similarity.answer_code(graded_notebook(submission), assignment)
            except Exception as exc:   # one bad file, whatever is wrong with it
                skipped.append((student, f"submission {submission.id} could not be read: {_why(exc)}"))
    return found, skipped


def graded_notebook(submission):
    """The notebook a submission was graded from (nbformat 4), read as grading reads it; a
    submission stored before the service kept that copy is normalised from its upload."""
    from grader.course import notebook

    return notebook.read((current_app.config["SETTINGS"].data_dir / submission.graded_notebook).read_bytes())


def _why(exc):
    from grader.course.notebook import NotebookError

    if isinstance(exc, NotebookError):
        return "; ".join(exc.errors)
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _threshold(raw):
    try:
        value = float(raw)
    except ValueError:
        abort(400, f"threshold must be a number from 0 to 1, not {raw!r}")
    if not 0 <= value <= 1:
        abort(400, "threshold must be from 0 to 1")
    return value


def _confirm(question, endpoint, button, **fields):
    """A page that asks before a change that touches many rows or locks a student out: the
    same form again, with `confirmed` set."""
    return render_template("confirm.html", question=question, action=url_for(endpoint), button=button,
                           fields=fields, identity=session_identity())


def _back(message):
    return redirect(url_for("pages.instructor", message=message), code=303)
