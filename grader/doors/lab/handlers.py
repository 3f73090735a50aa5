"""The /convgrade/ handlers of the Jupyter server: submit, poll, overview, config.

Each one forwards to the grader service with grader.doors.submit.GraderClient (blocking urllib,
run in a thread so the server stays responsive) and answers JSON; a refusal keeps the
grader's status code (401, 403, 413, 422, 429, ...) and its one sentence as {"error": ...}.
"""

import asyncio
import json
import os
from pathlib import PurePosixPath

import nbformat
import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async, url_path_join

from grader.doors.submit import GraderClient, SubmitError

PLUGIN_SETTINGS = ("convgrade", "plugin.jupyterlab-settings")  # user-settings/<package>/<plugin>
DEFAULT_WAIT_SECONDS = 120
# One request to the grader waits at most this long; the page polls for longer waits.
REQUEST_WAIT_SECONDS = 30
HISTORY_SCORES = 10  # earlier submissions whose scores the overview looks up


def lab_settings():
    """The student's convgrade settings from JupyterLab's user-settings folder ({} if none)."""
    import json5
    from jupyterlab.commands import get_user_settings_dir

    path = os.path.join(get_user_settings_dir(), *PLUGIN_SETTINGS)
    try:
        with open(path, encoding="utf-8") as f:
            return json5.load(f) or {}
    except FileNotFoundError:
        return {}
    except ValueError:
        raise SubmitError(f"the convgrade settings in {path} are not valid JSON") from None


def grader_config(env=os.environ):
    """(server, token, wait seconds): JupyterLab settings first, the server's environment after.

    On a JupyterHub whose admin set CONVGRADE_URL for the single-user servers, the server's own
    hub token (JUPYTERHUB_API_TOKEN) identifies the student to the grader (grader/doors/service/hub.py);
    it is sent only to that admin-set address, never to one typed into the settings.
    """
    settings = lab_settings()
    server = (settings.get("server") or "").strip()
    token = (settings.get("token") or env.get("CONVGRADE_TOKEN", "")).strip()
    if not server:
        server = env.get("CONVGRADE_URL", "").strip()
        token = token or env.get("JUPYTERHUB_API_TOKEN", "")
    wait = settings.get("waitSeconds") or DEFAULT_WAIT_SECONDS
    return server, token, float(wait)


def client():
    server, token, _ = grader_config()
    if not server:
        raise SubmitError("no grader address: set it in Settings > convgrade, "
                          "or CONVGRADE_URL in the Jupyter server's environment")
    if not token:
        raise SubmitError("no token: set yours in Settings > convgrade, "
                          "or CONVGRADE_TOKEN in the Jupyter server's environment")
    return GraderClient(server, token)


class GraderHandler(APIHandler):
    """Runs one blocking grader call in a thread and answers its JSON, or the refusal."""

    async def answer(self, call, *args):
        try:
            body = await asyncio.to_thread(call, *args)
        except SubmitError as exc:
            status = exc.status if exc.status and 400 <= exc.status < 500 else 502
            self.set_status(status)
            body = {"error": str(exc)}
        self.finish(json.dumps(body))


class ConfigHandler(GraderHandler):
    @tornado.web.authenticated
    async def get(self):
        def config():
            server, token, wait = grader_config()
            return {"server": server, "has_token": bool(token), "wait_seconds": wait}

        await self.answer(config)


class SubmitHandler(GraderHandler):
    @tornado.web.authenticated
    async def post(self):
        path = (self.get_json_body() or {}).get("path", "")
        model = await ensure_async(self.contents_manager.get(path, content=True, type="notebook"))
        raw = nbformat.writes(nbformat.from_dict(model["content"])).encode()
        name = PurePosixPath(path).name
        await self.answer(lambda: client().submit(raw, name, None, REQUEST_WAIT_SECONDS))


class SubmissionHandler(GraderHandler):
    @tornado.web.authenticated
    async def get(self, submission_id):
        wait = min(float(self.get_argument("wait", "0") or 0), REQUEST_WAIT_SECONDS)
        await self.answer(lambda: client().submission(submission_id, wait))


class OverviewHandler(GraderHandler):
    """The assignment (with its deadline, when the course has one), earlier submissions and the
    newest one in full (its result and feedback)."""

    @tornado.web.authenticated
    async def get(self):
        path = self.get_argument("path", "")
        requested = self.get_argument("assignment", "") or PurePosixPath(path).stem
        await self.answer(overview, requested)


def overview(requested):
    grader = client()
    try:  # the deadline is a nicety: the history shows even when the assignment list fails
        assignment = next((a for a in grader.assignments() if a["name"] == requested), None)
    except SubmitError:
        assignment = None
    submissions = grader.submissions(requested)
    for entry in submissions[:HISTORY_SCORES]:
        if entry["status"] == "done" and entry.get("score") is None:
            detail = grader.submission(entry["id"])
            entry["score"], entry["max_score"] = detail.get("score"), detail.get("max_score")
    # the newest submission in full (newest first): its result and feedback, shown on opening
    last = grader.submission(submissions[0]["id"]) if submissions else None
    return {"assignment": assignment, "submissions": submissions, "last": last}


def setup_handlers(web_app):
    base = url_path_join(web_app.settings["base_url"], "convgrade")
    web_app.add_handlers(".*$", [
        (url_path_join(base, "config"), ConfigHandler),
        (url_path_join(base, "submit"), SubmitHandler),
        (url_path_join(base, "submissions", r"([A-Za-z0-9_-]+)"), SubmissionHandler),
        (url_path_join(base, "overview"), OverviewHandler),
    ])
