"""A real `convgrade serve` on loopback for the service tests: a subprocess with its own data dir.

Only 127.0.0.1 is ever contacted.
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import re
import time
from html import unescape
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def service_env(data_dir, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVGRADE_")}
    env.update(CONVGRADE_DATA_DIR=str(data_dir), CONVGRADE_ADMIN_TOKEN="instructor-token-for-tests",
               PYTHONUNBUFFERED="1", **{f"CONVGRADE_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def checks_as_served(result):
    """(number, status) of each check in the order the HTTP API lists them: exercise by exercise in
    notebook order, failures first. Compare a served result with an embedded grade through this."""
    from grader.course import feedback
    ordered = feedback.in_notebook_order(result, feedback.assignment_order(result["assignment"]))
    return [(t["number"], t["status"]) for t in ordered["tests"]]


def convgrade(env, *args, **kwargs):
    """Run the CLI (python -m grader.cli ...) as a subprocess."""
    return subprocess.Popen([sys.executable, "-m", "grader.cli", *args], cwd=REPO, env=env, **kwargs)


def import_roster(data_dir, student_ids, env):
    roster = Path(data_dir) / "roster.csv"
    roster.write_text("student_id,name\n" + "".join(f"{s},Student {s}\n" for s in student_ids))
    out = convgrade(env, "students", "import", str(roster), stdout=subprocess.PIPE, text=True)
    text, _ = out.communicate(timeout=60)
    assert out.returncode == 0
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    return {student: token for student, token in rows}


class Service:
    """One `convgrade serve` process group; `kill()` SIGKILLs all of it, workers included."""

    def __init__(self, data_dir, **settings):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = service_env(data_dir, **settings)
        self.admin_token = self.env["CONVGRADE_ADMIN_TOKEN"]
        self.process = None
        self.url = None

    def start(self, timeout=60):
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        self.log = open(self.data_dir / "service.log", "ab")
        self.process = convgrade(self.env, "serve", "--host", HOST, "--port", str(port),
                                 stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_text()
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("the service did not become healthy:\n" + self.log_text())

    def kill(self, sig=signal.SIGKILL):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self):
        self.kill(signal.SIGTERM)
        self.kill(signal.SIGKILL)

    def log_text(self):
        return (self.data_dir / "service.log").read_text(errors="replace")[-4000:]

    # -- what is stored: read straight from the real SQLite file and the data dir ----------

    def rows(self, where="1=1"):
        with sqlite3.connect(self.data_dir / "convgrade.sqlite3", timeout=30) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(f"SELECT * FROM submissions WHERE {where}")]

    def stored_files(self):
        """The notebooks as uploaded (each has its normalised copy, <id>.graded.ipynb, beside it)."""
        return sorted(p.name for p in (self.data_dir / "submissions").iterdir() if not p.name.endswith(".graded.ipynb"))


class Client:
    def __init__(self, url, token=None):
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def submit(self, notebook, assignment=None, filename="submission.ipynb", wait=None, **kwargs):
        files = {"notebook": (filename, notebook, "application/x-ipynb+json")} if notebook is not None else None
        data = {"assignment": assignment} if assignment else {}
        params = {"wait": wait} if wait is not None else {}
        kwargs.setdefault("timeout", 120)
        return requests.post(self.url + "/api/v1/submissions", files=files, data=data, params=params,
                             headers=kwargs.pop("headers", self.headers), **kwargs)

    def get(self, path, **kwargs):
        return requests.get(self.url + path, headers=kwargs.pop("headers", self.headers), timeout=120, **kwargs)

    def wait_done(self, submission_ids, timeout=300):
        """Poll until every submission is done or failed; return {id: body}."""
        pending, finished = set(submission_ids), {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for submission_id in list(pending):
                body = self.get(f"/api/v1/submissions/{submission_id}").json()
                if body["status"] in ("done", "error"):
                    finished[submission_id] = body
                    pending.discard(submission_id)
            time.sleep(0.3)
        assert not pending, f"{len(pending)} submission(s) never finished"
        return finished


def error_of(response):
    body = json.loads(response.text)
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    return body["error"]


def stop_group(process, grace=60):
    """SIGTERM the process group (JupyterLab and its kernels), SIGKILL what outlives `grace`."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def form_token(html):
    """The CSRF token a page's form carries."""
    return unescape(re.search(r'name="csrf_token" value="([^"]+)"', html).group(1))


def signed_in(service, token, browser=None):
    """A requests session signed in through the page's own form, as a browser does."""
    browser = browser or requests.Session()
    page = browser.get(service.url + "/", timeout=30)
    response = browser.post(service.url + "/login", data={"token": token, "csrf_token": form_token(page.text)},
                            allow_redirects=False, timeout=30)
    assert response.status_code == 303, response.text
    return browser, response
