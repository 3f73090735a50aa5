"""Who is asking: a student (by roster token, by JupyterHub login: hub.py, or signed in by an
LTI launch), the instructor (admin token), or nobody."""

import dataclasses
import hmac

from flask import abort, current_app, request, session
from sqlalchemy import select

from grader.doors.service import hub
from grader.store.db import Student, hash_token

INSTRUCTOR = "(instructor)"
SESSION_STUDENT = "student_id"   # set by an LTI launch (grader.doors.lti.views)
SESSION_CSRF = "csrf"


@dataclasses.dataclass(frozen=True)
class Identity:
    student_id: str
    is_admin: bool = False


def identify(token):
    """The identity a token stands for, or None."""
    if not token:
        return None
    admin_token = current_app.config["SETTINGS"].admin_token
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Identity(INSTRUCTOR, is_admin=True)
    with current_app.config["SESSIONS"]() as session:
        student = session.scalars(select(Student).where(Student.token_hash == hash_token(token))).first()
    if student:
        return Identity(student.student_id)
    login = hub.login_of(token) if hub.enabled() else None
    return Identity(login) if login else None


def bearer_identity():
    """The caller of an API request, or a 401 that says what is wrong with the header."""
    header = request.headers.get("Authorization", "")
    if not header and session_identity() is not None:
        return session_identity(require_csrf=request.method != "GET")
    if not header:
        abort(401, "this request needs an 'Authorization: Bearer <token>' header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, "the Authorization header must be 'Bearer <token>'")
    identity = identify(token.strip())
    if identity is None:
        abort(401, "the token is not valid")
    return identity


def session_identity(require_csrf=False):
    """The student an LTI launch signed in, or None. A cookie rides along on cross-site
    requests, so a state-changing request must also carry the session's CSRF token
    (form field csrf_token or header X-CSRF-Token)."""
    student_id = session.get(SESSION_STUDENT)
    if not student_id:
        return None
    if require_csrf:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        if not hmac.compare_digest(sent.encode(), session.get(SESSION_CSRF, "").encode()):
            abort(403, "this request needs the page's csrf_token")
    return Identity(student_id)


def require_admin(identity):
    if not identity.is_admin:
        abort(403, "only the instructor's token may do this")
