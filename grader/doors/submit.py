"""The student's side of the grader service: `convgrade submit`.

`GraderClient` speaks the JSON API of section 4 with the standard library only, so the
command works wherever the package is installed; the JupyterLab server extension
(grader/doors/lab/) uses the same client, so both ways to submit refuse with the same sentences.
Every failure becomes a `SubmitError` carrying one sentence for the student.
"""

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from grader.course import feedback

DEFAULT_WAIT_SECONDS = 60.0
# The service caps ?wait= (max_wait_seconds, 300 by default); longer waits poll.
SERVER_WAIT_CAP = 300.0

# What the student should do about each refusal, when the server's own sentence is not enough.
ADVICE = {
    401: "the grader did not accept your token ({error}); check CONVGRADE_TOKEN or --token",
    413: "the notebook is too large for the grader ({error}); clear large outputs and submit again",
}


class SubmitError(Exception):
    """A refusal or an unreachable grader: `str()` is one sentence; `status` the HTTP code or None."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class GraderClient:
    def __init__(self, server, token, timeout=30.0):
        if not server:
            raise SubmitError("no grader address: pass --server or set CONVGRADE_URL")
        if not token:
            raise SubmitError("no token: pass --token or set CONVGRADE_TOKEN")
        self.server = server.strip().rstrip("/")
        # a token read from a file or pasted keeps its line ending: the token is what is inside
        self.token = token.strip()
        if any(not c.isprintable() or c.isspace() for c in self.token):
            raise SubmitError("the token contains spaces or control characters; copy it again, "
                              "exactly as `convgrade students import` printed it")
        self.timeout = timeout

    # -- the API -----------------------------------------------------------------------------

    def submit(self, notebook_bytes, filename, assignment=None, wait=0.0):
        """POST the notebook; the body is the finished submission, or {"id", "status": "queued"}."""
        fields = {"assignment": assignment} if assignment else {}
        body, content_type = _multipart(fields, "notebook", filename, notebook_bytes)
        query = f"?wait={min(wait, SERVER_WAIT_CAP):g}" if wait > 0 else ""
        return self._request("POST", "/api/v1/submissions" + query, body, content_type,
                             timeout=self.timeout + min(wait, SERVER_WAIT_CAP))

    def submission(self, submission_id, wait=0.0):
        query = f"?wait={min(wait, SERVER_WAIT_CAP):g}" if wait > 0 else ""
        path = f"/api/v1/submissions/{urllib.parse.quote(submission_id, safe='')}{query}"
        return self._request("GET", path, timeout=self.timeout + min(wait, SERVER_WAIT_CAP))

    def submissions(self, assignment=None):
        query = "?" + urllib.parse.urlencode({"assignment": assignment}) if assignment else ""
        return self._request("GET", "/api/v1/submissions" + query)["submissions"]

    def assignments(self):
        return self._request("GET", "/api/v1/assignments")["assignments"]

    def submit_and_wait(self, notebook_bytes, filename, assignment=None, wait=DEFAULT_WAIT_SECONDS):
        """Submit, then wait up to `wait` seconds in total; return the last state seen."""
        deadline = time.monotonic() + wait
        state = self.submit(notebook_bytes, filename, assignment, wait)
        while state.get("status") in ("queued", "running") and time.monotonic() < deadline:
            state = self.submission(state["id"], deadline - time.monotonic())
        return state

    # -- HTTP --------------------------------------------------------------------------------

    def _request(self, method, path, body=None, content_type=None, timeout=None):
        request = urllib.request.Request(self.server + path, data=body, method=method,
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Accept": "application/json"})
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with _OPENER.open(request, timeout=timeout or self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            raise SubmitError(_refusal(exc), exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SubmitError(f"the grader at {self.server} cannot be reached ({reason})") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise SubmitError(f"the grader at {self.server} answered HTTP {status} with something that is "
                              f"not JSON: is that the grader's address?", status) from None


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only within the grader's origin: urllib would copy the Authorization
    header to wherever the answer points, and the token (a hub token, on JupyterHub) is for
    the grader alone."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if _origin(newurl) != _origin(req.full_url):
            raise SubmitError(f"the grader at {_origin(req.full_url)} redirected to {_origin(newurl)}, another "
                              "address, and your token is never sent there: set the grader's own address "
                              "(--server or CONVGRADE_URL)", code)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginRedirects)


def _origin(url):
    """scheme://host:port, with the scheme's default port made explicit."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def _refusal(exc):
    """One sentence for an HTTP error: the server's own {"error": ...}, with advice where useful."""
    try:
        error = f"HTTP {exc.code}: " + str(json.loads(exc.read())["error"])
    except Exception:
        error = f"HTTP {exc.code} {exc.reason}"
    return ADVICE.get(exc.code, "{error}").format(error=error)


def _multipart(fields, file_field, filename, data):
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                 f'filename="{safe_name}"\r\nContent-Type: application/x-ipynb+json\r\n\r\n'.encode()
                 + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# -- the command -------------------------------------------------------------------------------

def run(args):
    """`convgrade submit`: returns the exit status; raises SubmitError for a refusal."""
    path = Path(args.notebook)
    if not path.is_file():
        raise SubmitError(f"{path} does not exist")
    client = GraderClient(args.server or os.environ.get("CONVGRADE_URL", ""),
                          args.token or os.environ.get("CONVGRADE_TOKEN", ""))
    state = client.submit_and_wait(path.read_bytes(), path.name, args.assignment, args.wait)
    schedule = state.get("deadlines")   # the windows that decided the credit, the student's own
    order = feedback.notebook_order(path)
    if args.json:
        print(json.dumps(as_json(state, schedule, order), indent=2))
    else:
        print(describe(state, schedule, order))
    return 0


def as_json(state, schedule=None, order=()):
    """`--json`: the result JSON (checks in notebook order) with what decides the grade beside
    it: `credit`, `credited_score` (the score that counts), `submitted_at`, `deadlines`."""
    result = state.get("result")
    if not result:
        return state
    return {**feedback.in_notebook_order(result, state_order(state, order)),
            "submission_id": state.get("id"), "submitted_at": state.get("submitted_at"),
            "credit": state.get("credit", 1.0), "credited_score": state.get("credited_score"),
            "deadlines": schedule, "deadline_words": feedback.deadline_words(schedule)}


def state_order(state, order=()):
    """The notebook order: the grader's (its `exercises`), else the submitted notebook's."""
    return [ex["name"] for ex in state.get("exercises") or []] or list(order)


def describe(state, schedule=None, order=()):
    """The text a student reads: notes first, the score that counts and how, the deadline in
    words, then each exercise in notebook order with its failed checks and their messages."""
    status = state.get("status")
    if status in ("queued", "running"):
        return (f"submission {state['id']} is {status}; the grader has not finished yet. "
                f"Its result will be at /api/v1/submissions/{state['id']}")
    result = state.get("result") or {}
    if status == "error" or not result:
        return escape(f"submission {state.get('id')} could not be graded: {state.get('error') or 'no result'}")
    if not result.get("gradable"):
        return escape("not gradable: " + "; ".join(result.get("format_errors", [])))
    lines = []
    if result.get("notes"):
        lines.append("Read this first:")
        lines += [escape(f"  - {note}") for note in result["notes"]]
    lines.append(escape(f"{result['assignment']}: " + feedback.credit_words(
        result["score"], result["max_score"], state.get("credit"), state.get("credited_score"))))
    if schedule:
        lines.append(escape("deadline: " + feedback.deadline_words(schedule)))
    for ex in feedback.grouped(result, state_order(state, order)):
        mark = f"{ex['failed']} failed" if ex["failed"] else "all passed"
        lines.append(escape(f"  {ex['name']:24} {ex['score']:g} / {ex['max_score']:g}   {mark}"))
        for test in ex["tests"]:
            if test.get("status") == "passed":
                continue
            lines.append(escape(f"    FAIL {test['number']}: {test['name']}"))
            lines += ["         " + escape(line) for line in str(test.get("output") or "").splitlines()]
            lines += ["         " + escape(line) for line in feedback.check_feedback(test)]
    return "\n".join(lines)


def escape(text):
    """Student-controlled text never drives the terminal: control characters are shown escaped."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode() for c in str(text))
