"""Browser sessions and the one CSRF rule. Every cookie the service sets is set here.

A signed-in browser holds one cookie, `convgrade_session`: a random id naming a row of
`web_sessions` (grader.store.db), never a token. Signing in, by the token form or by an LTI
launch, replaces whatever session the browser had, so one browser is one identity at a time.

The rule, checked before every request: a request that is not GET, HEAD or OPTIONS and
carries one of this service's cookies acts only from this service's own pages (Origin and
Sec-Fetch-Site, when the browser sends them) and only with the CSRF token bound to that
cookie (form field `csrf_token` or header `X-CSRF-Token`). A session is only ever created by
`sign_in`, which asks the same of the sign-in form (its token is bound to a pre-session
cookie, `convgrade_signin`), so a page elsewhere can neither act for a signed-in browser nor
sign it in as someone else. Requests without our cookies (the API with a bearer token)
carry nothing a browser sends by itself. Views that are authorised by a signed message of
their own (an LTI launch) are marked `@own_proof`.

Over HTTPS the cookies are `Secure` and named with the `__Host-` prefix; a session opened by
an LTI launch is `SameSite=None` (the LMS frames the tool), every other cookie `Strict`.
"""

import datetime
import hashlib
import hmac
import secrets

from flask import abort, current_app, g, request
from markupsafe import Markup
from sqlalchemy import delete, or_, select

from grader.store.db import Student, WebSession, hash_token, utcnow

SESSION_COOKIE = "convgrade_session"
SIGNIN_COOKIE = "convgrade_signin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDLE = datetime.timedelta(minutes=30)          # OWASP ASVS 3.3.2, level 2
LIFETIME = datetime.timedelta(hours=12)
EXPIRED = "this page has expired or was not sent from this grader: reload it and try again"
ELSEWHERE = "this form was sent from another site; open the grader's own page and send it there"


def install(app):
    app.before_request(_open_and_guard)
    app.after_request(_write_cookies)
    app.context_processor(lambda: {"csrf_token": csrf_token, "csrf_field": csrf_field})


def own_proof(view):
    """Mark a view that a signed message of its own authorises (an LTI launch checked by
    pylti1p3: signature, state, nonce), never the cookie: the CSRF rule leaves it alone, and
    the browser's session is not read for it."""
    view.own_proof = True
    return view


def current():
    """The signed-in session (a WebSession row) of this request, or None."""
    return g.get("web_session")


def sign_in(student_id, *, is_admin=False, via="token", credential="", frame_ancestors=()):
    """Open a new session for this browser, ending the one it had. A sign-in by form needs the
    form's token (login CSRF); `via="lti"` is only for a launch pylti1p3 has validated."""
    if via != "lti":
        verify()
    _end(request.cookies.get(_name(SESSION_COOKIE)))
    raw, now = secrets.token_urlsafe(32), utcnow()
    row = WebSession(id_hash=hash_token(raw), student_id=student_id, is_admin=is_admin, via=via,
                     credential_hash=hash_token(credential) if credential else "",
                     frame_ancestors=" ".join(frame_ancestors), created_at=now, seen_at=now)
    with current_app.config["SESSIONS"]() as session:
        session.execute(delete(WebSession).where(or_(WebSession.seen_at < now - IDLE,
                                                     WebSession.created_at < now - LIFETIME)))
        session.add(row)
        session.commit()
    g.web_session, g.session_id, g.set_session = row, raw, row


def sign_out():
    _end(request.cookies.get(_name(SESSION_COOKIE)))
    g.web_session = None
    g.clear_session = True


def end_sessions_of(student_id):
    """End every session of one student (their token was replaced)."""
    with current_app.config["SESSIONS"]() as session:
        session.execute(delete(WebSession).where(WebSession.student_id == student_id))
        session.commit()


def csrf_token():
    """The token the page's forms carry (templates: `{{ csrf_token() }}`)."""
    expected = _expected_token()
    if expected:
        return expected
    if not g.get("new_signin"):
        g.new_signin = secrets.token_urlsafe(32)       # set as the pre-session cookie below
    return _mac("signin", g.new_signin)


def csrf_field():
    """The hidden field every POST form of the templates starts with (`{{ csrf_field() }}`)."""
    return Markup(f'<input type="hidden" name="csrf_token" value="{csrf_token()}">')


def verify():
    """Abort with a 403 unless this request comes from our own page with its CSRF token."""
    if g.get("csrf_verified"):
        return
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        abort(403, ELSEWHERE)
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        abort(403, ELSEWHERE)
    expected = _expected_token()
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, EXPIRED)
    g.csrf_verified = True


def frame_ancestors():
    """The origins that may show this response in a frame: an LTI session's platforms, else none."""
    row = current()
    return row.frame_ancestors.split() if row is not None and row.frame_ancestors else []


# -- internals ---------------------------------------------------------------------------------

def _name(cookie):
    return f"__Host-{cookie}" if request.is_secure else cookie


def _own_proof():
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "own_proof", False)


def _open_and_guard():
    if _own_proof():
        g.web_session = None
        return
    g.session_id = request.cookies.get(_name(SESSION_COOKIE), "")
    g.web_session = _lookup(g.session_id)
    if request.method not in SAFE_METHODS and _carries_our_cookie():
        verify()


def _carries_our_cookie():
    return any(request.cookies.get(_name(c)) for c in (SESSION_COOKIE, SIGNIN_COOKIE))


def _lookup(raw):
    """The live session a cookie names; an idle, too old or orphaned one ends here."""
    if not raw:
        return None
    now = utcnow()
    with current_app.config["SESSIONS"]() as session:
        row = session.get(WebSession, hash_token(raw))
        if row is None:
            return None
        if now - row.seen_at > IDLE or now - row.created_at > LIFETIME or not _credential_holds(session, row):
            session.delete(row)
            session.commit()
            return None
        if now - row.seen_at > datetime.timedelta(minutes=1):
            row.seen_at = now
            session.commit()
    return row


def _credential_holds(session, row):
    """A session lasts only as long as the token it was opened with (a new admin token or a
    reissued student token ends it)."""
    if row.via != "token" or not row.credential_hash:
        return True
    if row.is_admin:
        return hmac.compare_digest(row.credential_hash, hash_token(current_app.config["SETTINGS"].admin_token))
    student = session.scalars(select(Student).where(Student.student_id == row.student_id)).first()
    return student is None or hmac.compare_digest(student.token_hash, row.credential_hash)


def _end(raw):
    if raw:
        with current_app.config["SESSIONS"]() as session:
            session.execute(delete(WebSession).where(WebSession.id_hash == hash_token(raw)))
            session.commit()


def _expected_token():
    if current() is not None:
        return _mac("session", g.session_id)
    nonce = request.cookies.get(_name(SIGNIN_COOKIE))
    return _mac("signin", nonce) if nonce else None


def _mac(purpose, value):
    return hmac.new(current_app.secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _write_cookies(response):
    secure = request.is_secure
    created = g.get("set_session")
    if created is not None:
        lti = created.via == "lti"
        response.set_cookie(_name(SESSION_COOKIE), g.session_id, httponly=True, secure=secure, path="/",
                            samesite=("None" if secure else "Lax") if lti else "Strict")
        response.delete_cookie(_name(SIGNIN_COOKIE), path="/", secure=secure, httponly=True)
    elif g.get("clear_session") or (g.get("session_id") and current() is None):
        response.delete_cookie(_name(SESSION_COOKIE), path="/", secure=secure, httponly=True)
    if g.get("new_signin") and created is None:
        response.set_cookie(_name(SIGNIN_COOKIE), g.new_signin, httponly=True, secure=secure, path="/",
                            samesite="Strict", max_age=int(LIFETIME.total_seconds()))
    if secure:
        _all_cookies_secure(response)
    return response


def _all_cookies_secure(response):
    """Over HTTPS every cookie is Secure, those of libraries (pylti1p3's state) included."""
    cookies = response.headers.getlist("Set-Cookie")
    if any("; secure" not in c.lower() for c in cookies):
        response.headers.remove("Set-Cookie")
        for cookie in cookies:
            response.headers.add("Set-Cookie", cookie if "; secure" in cookie.lower() else cookie + "; Secure")
