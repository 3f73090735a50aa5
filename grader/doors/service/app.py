"""The app factory: settings from the environment, database, queue, sessions and security
headers, blueprints, JSON errors."""

import hashlib
import hmac

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from grader.doors import metrics
from grader.doors.lti import views as lti
from grader.doors.service import api, headers, instructor, pages, sessions, submissions
from grader.doors.service.queue import make_queue
from grader.store.db import sessions_for
from grader.store.settings import Settings

# Werkzeug's own descriptions are paragraphs; a student reads one sentence.
SHORT_ERRORS = {
    400: "the request is malformed",
    401: "this request needs a valid token",
    403: "you may not do this",
    404: "there is nothing at this address",
    405: "{method} is not allowed on {path}",
    413: "the upload is larger than the limit of {limit}",
    429: "too many requests; try again later",
}


def create_app(config=None):
    """Build the Flask app. `config` overrides settings: a Settings, or a dict of its fields."""
    settings = config if isinstance(config, Settings) else Settings.from_env(**(config or {}))
    settings.prepare()
    app = Flask(__name__)
    app.request_class = submissions.UploadRequest   # a refused form names the limit it hit
    app.config.update(SETTINGS=settings, SESSIONS=sessions_for(settings.database_url),
                      QUEUE=make_queue(settings), MAX_CONTENT_LENGTH=settings.max_upload_bytes,
                      MAX_FORM_MEMORY_SIZE=settings.max_upload_bytes)
    # signs the CSRF tokens; derived from the admin token, which every process of one service shares
    app.secret_key = hmac.new(settings.admin_token.encode(), b"convgrade session cookie", hashlib.sha256).hexdigest()
    sessions.install(app)
    headers.install(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(instructor.bp)
    lti.init_app(app)
    app.register_error_handler(HTTPException, _json_error)
    return app


def _json_error(error):
    response = error.get_response()
    if error.code is None or error.code < 400:
        return error
    message = error.description
    if not message or message == type(error).description:
        limit = request.max_content_length or 0
        message = SHORT_ERRORS.get(error.code, error.name.lower()).format(
            method=request.method, path=request.path, limit=f"{limit / 2**20:g} MiB")
    body = jsonify({"error": message})
    body.status_code = error.code
    for header in ("Retry-After", "Allow", "WWW-Authenticate"):
        if header in response.headers:
            body.headers[header] = response.headers[header]
    return body
