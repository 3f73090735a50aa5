"""Who is asking: a student (by roster token, by JupyterHub login: hub.py, or a browser signed
in by the token form or an LTI launch: sessions.py), the instructor (admin token), or nobody."""

import dataclasses
import hmac

from flask import abort, current_app, request
from sqlalchemy import select

from grader.doors.service import hub, sessions
from grader.store.db import Student, hash_token

INSTRUCTOR = "(instructor)"


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
        return session_identity()
    if not header:
        abort(401, "this request needs an 'Authorization: Bearer <token>' header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, "the Authorization header must be 'Bearer <token>'")
    identity = identify(token.strip())
    if identity is None:
        abort(401, "the token is not valid")
    return identity


def session_identity():
    """The signed-in browser's identity, or None. The CSRF rule of sessions.py has already
    held for every request that changes something."""
    row = sessions.current()
    return Identity(row.student_id, is_admin=row.is_admin) if row is not None else None


def require_admin(identity):
    if not identity.is_admin:
        abort(403, "only the instructor's token may do this")
