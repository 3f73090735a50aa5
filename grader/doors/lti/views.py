"""The LTI routes (blueprint "lti"): OIDC login, launch, the tool's JWKS, and the NRPS roster import.

A launch validated by pylti1p3 (state, nonce, registration, signature, expiry, audience,
deployment, message) signs the student in through the service's session
(grader.doors.service.sessions: SameSite=None; Secure over HTTPS, framable by the launching
platform) and opens the student page for the assignment the LMS link names: no token to paste.
HTTPS is the request's own scheme, behind a proxy the operator trusts (CONVGRADE_TRUSTED_PROXIES).
"""

from urllib.parse import urlparse

from flask import Blueprint, abort, current_app, jsonify, redirect, request, url_for
from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
from pylti1p3.exception import LtiException, OIDCException

from grader.course import assignments
from grader.doors.lti import links
from grader.doors.lti.storage import DatabaseLaunchDataStorage
from grader.doors.service import sessions
from grader.doors.service.auth import bearer_identity, require_admin

bp = Blueprint("lti", __name__, url_prefix="/lti")


def init_app(app):
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
@sessions.own_proof       # the platform starts it from its own site; it signs nobody in
def login():
    """OIDC third-party initiated login: send the browser to the platform's auth endpoint."""
    config = _tool_config()
    flask_request = FlaskRequest(request_is_secure=request.is_secure)
    target = flask_request.get_param("target_link_uri") or url_for("lti.launch", _external=True)
    try:
        if flask_request.get_param("iss"):   # pylti1p3 checks neither the client id nor the deployment here
            links.registration(flask_request.get_param("iss"), flask_request.get_param("client_id"),
                               flask_request.get_param("lti_deployment_id"))
        return FlaskOIDCLogin(flask_request, config, launch_data_storage=_storage()).redirect(target)
    except (OIDCException, LtiException) as exc:
        abort(400, f"the LTI login was refused: {exc}")


@bp.post("/launch")
@sessions.own_proof       # the platform's signed id_token, with pylti1p3's state and nonce
def launch():
    config = _tool_config()
    database_url = current_app.config["SETTINGS"].database_url
    message = FlaskMessageLaunch(FlaskRequest(request_is_secure=request.is_secure), config,
                                 launch_data_storage=_storage())
    try:
        data = message.get_launch_data()
    except LtiException as exc:
        abort(401, f"the LTI launch was refused: {exc}")
    student_id = links.student_for(database_url, *links.identity_of(data), name=data.get("name", ""))
    assignment = links.assignment_of(data, assignments.names())
    links.record_launch(database_url, data, student_id, assignment)
    sessions.sign_in(student_id, via="lti", frame_ancestors=_platform_origins(data))
    return redirect(url_for("pages.index", assignment=assignment) if assignment else url_for("pages.index"),
                    code=303)


def _platform_origins(launch):
    """Where the launching platform shows the tool: its issuer's and its login endpoint's origins
    (cloud Canvas issues as canvas.instructure.com and serves the course from the school's host)."""
    audience = launch.get("aud")
    registration = links.registration(launch["iss"], audience[0] if isinstance(audience, list) else audience)
    urls = [launch["iss"], registration.get_auth_login_url() if registration else ""]
    return sorted({f"{u.scheme}://{u.netloc}" for u in map(urlparse, urls) if u.scheme in ("http", "https") and u.netloc})


@bp.post("/roster")
def roster():
    """The instructor imports the members of every launched course (NRPS) as students."""
    require_admin(bearer_identity())
    _tool_config()
    from grader.doors.lti.memberships import import_members

    imported = import_members(current_app.config["SETTINGS"].database_url)
    return jsonify({"students": [{"student_id": s, "name": n} for s, n in imported]})
