"""The LTI routes (blueprint "lti"): OIDC login, launch, the tool's JWKS, and the NRPS roster import.

A launch validated by pylti1p3 (state, nonce, registration, signature, expiry, audience,
deployment, message) signs the student in with Flask's session cookie and opens the
student page for the assignment the LMS link names: no token to paste.
"""

import hashlib
import hmac
import secrets

from flask import Blueprint, abort, current_app, jsonify, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
from pylti1p3.exception import LtiException, OIDCException

from grader.course import assignments
from grader.doors.lti import links
from grader.doors.lti.storage import DatabaseLaunchDataStorage
from grader.doors.service.auth import SESSION_CSRF, SESSION_STUDENT, bearer_identity, require_admin

bp = Blueprint("lti", __name__, url_prefix="/lti")
SESSION_COOKIE = "convgrade_session"


def is_https():
    """HTTPS here or at the TLS proxy in front. Only cookie flags depend on it, so a forged
    header gains nothing: a Secure cookie is simply not sent back over plain HTTP."""
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


class FramedSessionInterface(SecureCookieSessionInterface):
    """The LMS shows the tool in an iframe: over HTTPS the session cookie must be SameSite=None."""

    def get_cookie_samesite(self, app):
        return "None" if is_https() else "Lax"

    def get_cookie_secure(self, app):
        return is_https()


def init_app(app):
    """Register the blueprint and the signed session the launch signs students in with.

    The key is derived from the admin token, which every process of one service shares.
    """
    settings = app.config["SETTINGS"]
    app.secret_key = hmac.new(settings.admin_token.encode(), b"convgrade session cookie",
                              hashlib.sha256).hexdigest()
    app.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True)
    app.session_interface = FramedSessionInterface()
    app.register_blueprint(bp)


def _tool_config():
    try:
        return links.tool_config()
    except links.LtiNotConfigured as exc:
        abort(404, str(exc))


def _storage():
    return DatabaseLaunchDataStorage(current_app.config["SETTINGS"].database_url)


@bp.get("/jwks")
def jwks():
    return jsonify(_tool_config().get_jwks())


@bp.route("/login", methods=["GET", "POST"])
def login():
    """OIDC third-party initiated login: send the browser to the platform's auth endpoint."""
    config = _tool_config()
    flask_request = FlaskRequest(request_is_secure=is_https())
    target = flask_request.get_param("target_link_uri") or url_for("lti.launch", _external=True)
    try:
        if flask_request.get_param("iss"):   # pylti1p3 checks neither the client id nor the deployment here
            links.registration(flask_request.get_param("iss"), flask_request.get_param("client_id"),
                               flask_request.get_param("lti_deployment_id"))
        return FlaskOIDCLogin(flask_request, config, launch_data_storage=_storage()).redirect(target)
    except (OIDCException, LtiException) as exc:
        abort(400, f"the LTI login was refused: {exc}")


@bp.post("/launch")
def launch():
    config = _tool_config()
    database_url = current_app.config["SETTINGS"].database_url
    message = FlaskMessageLaunch(FlaskRequest(request_is_secure=is_https()), config, launch_data_storage=_storage())
    try:
        data = message.get_launch_data()
    except LtiException as exc:
        abort(401, f"the LTI launch was refused: {exc}")
    student_id = links.student_for(database_url, *links.identity_of(data), name=data.get("name", ""))
    assignment = links.assignment_of(data, assignments.names())
    links.record_launch(database_url, data, student_id, assignment)
    session.clear()
    session[SESSION_STUDENT] = student_id
    session[SESSION_CSRF] = secrets.token_urlsafe(24)
    return redirect(url_for("pages.index", assignment=assignment) if assignment else url_for("pages.index"),
                    code=303)


@bp.post("/roster")
def roster():
    """The instructor imports the members of every launched course (NRPS) as students."""
    require_admin(bearer_identity())
    _tool_config()
    from grader.doors.lti.memberships import import_members

    imported = import_members(current_app.config["SETTINGS"].database_url)
    return jsonify({"students": [{"student_id": s, "name": n} for s, n in imported]})
