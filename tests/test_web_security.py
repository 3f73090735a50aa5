"""The service's browser-facing security (docs/security.md), against a real `convgrade serve`
(waitress, SQLite; PostgreSQL where installed) and, for what a browser does, a real Chromium
in which other host names map to loopback: the grader at grader.course.test, a same-site
page at student.course.test, a cross-site one at evil.elsewhere.test.

CSRF (login and the instructor's forms), the session cookie (a server-side id, never a token;
logout and a new sign-in end it), cookie flags and headers behind a configured proxy, the
atomic rate limit, safe defaults (no public bind with a weak admin token, compose's token,
private files whatever the umask), and the probes that held before (isolation, instructor
routes, path traversal, stored XSS) as regressions. About a minute on 2 cores.
"""

import concurrent.futures
import http.server
import json
import os
import re
import sqlite3
import stat
import subprocess
import threading
from html import unescape

import pytest
import requests
import yaml

from browser import CHROMIUM, CHROMIUM_ARGS
from conftest import SERVICE_ASSIGNMENT as A1
from real_engines import postgres_cluster, postgres_missing_reason
from service_harness import (REPO, HOST, Client, Service, convgrade, error_of, form_token, free_port, import_roster,
                             signed_in)

GRADER_HOST, SAME_SITE_HOST, CROSS_SITE_HOST = "grader.course.test", "student.course.test", "evil.elsewhere.test"
RESUBMIT = 600
HTTPS = {"X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A service that trusts the proxy at 127.0.0.1 (CONVGRADE_TRUSTED_PROXIES), with a per-student
    rate limit, a course.toml with deadlines, and students s1..s4, r1, x1."""
    root = tmp_path_factory.mktemp("web")
    (root / "course.toml").write_text(f"[assignments.{A1}]\nopens = 2026-01-01T00:00:00Z\ndue = 2030-01-01T00:00:00Z\n")
    service = Service(root / "data", resubmit_seconds=RESUBMIT, workers=1, trusted_proxies="127.0.0.1",
                      course_config=root / "course.toml")
    service.tokens = import_roster(service.data_dir, ["s1", "s2", "s3", "s4", "r1", "x1"], service.env)
    service.start()
    yield service
    service.stop()


def who(service, browser):
    """The identity the browser's cookie stands for, per the nav bar of the student page."""
    page = browser.get(service.url + "/", timeout=30).text
    if 'id="token"' in page:
        return None
    return re.search(r"· (\S+)", page).group(1)


# -- the session cookie ------------------------------------------------------------------------

def test_the_cookie_holds_a_server_side_session_id_never_the_token(site):
    token = site.tokens["s1"]
    browser, response = signed_in(site, token)
    cookies = response.headers.get("Set-Cookie", "")
    assert token not in cookies and site.admin_token not in cookies
    assert all(token not in c.value for c in browser.cookies)
    _, admin_response = signed_in(site, site.admin_token)
    assert site.admin_token not in admin_response.headers.get("Set-Cookie", "")
    with sqlite3.connect(site.data_dir / "convgrade.sqlite3") as db:
        rows = db.execute("SELECT id_hash, student_id FROM web_sessions").fetchall()
    session_id = browser.cookies["convgrade_session"]
    assert all(session_id not in (row[0]) and token not in row[0] for row in rows)
    assert ("s1" in {r[1] for r in rows}) and who(site, browser) == "s1"


def test_logout_ends_the_session_on_the_server(site):
    browser, _ = signed_in(site, site.tokens["s2"])
    stolen = browser.cookies["convgrade_session"]
    page = browser.get(site.url + "/", timeout=30).text
    browser.post(site.url + "/logout", data={"csrf_token": form_token(page)}, timeout=30)
    replay = requests.Session()
    replay.cookies.set("convgrade_session", stolen)
    assert who(site, replay) is None, "a cookie copied before logout no longer signs anyone in"


def test_a_session_ends_when_its_token_is_replaced(site):
    browser, _ = signed_in(site, site.tokens["x1"])
    admin, _ = signed_in(site, site.admin_token)
    home = admin.get(site.url + "/instructor", timeout=30).text
    asked = admin.post(site.url + "/instructor/roster/token", data={"student": "x1", "csrf_token": form_token(home)},
                       timeout=30)
    assert "Their current token stops working" in asked.text, "a new token asks first"
    assert who(site, browser) == "x1"
    done = admin.post(site.url + "/instructor/roster/token", timeout=30,
                      data={"student": "x1", "confirmed": "1", "csrf_token": form_token(asked.text)})
    site.tokens["x1"] = re.search(r'id="new-token".*?<code>([^<]+)</code>', done.text, re.S).group(1).strip()
    assert who(site, browser) is None


def test_session_lifetime_is_bounded(site):
    browser, _ = signed_in(site, site.tokens["s3"])
    with sqlite3.connect(site.data_dir / "convgrade.sqlite3") as db:
        db.execute("UPDATE web_sessions SET seen_at = datetime('now', '-31 minutes') WHERE student_id = 's3'")
    assert who(site, browser) is None, "30 idle minutes end a session"


# -- CSRF: the rule, without a browser ---------------------------------------------------------

def test_every_post_form_carries_the_sessions_token(site, notebooks):
    admin, _ = signed_in(site, site.admin_token)
    Client(site.url, site.admin_token).submit(notebooks["stubs"], A1, wait=180)
    for path in ("/", "/instructor"):
        page = admin.get(site.url + path, timeout=30).text
        forms = re.findall(r'<form method="post".*?</form>', page, re.S)
        assert forms, path
        expected = form_token(page)
        for form in forms:
            assert f'name="csrf_token" value="{expected}"' in form, (path, form[:200])


def test_a_cookie_request_without_the_token_changes_nothing(site):
    admin, _ = signed_in(site, site.admin_token)
    forged = admin.post(site.url + "/instructor/extensions", timeout=30,
                        data={"student": "s4", "assignment": A1, "due": "2030-01-01T00:00:00Z"})
    assert forged.status_code == 403 and "reload" in error_of(forged)
    home = admin.get(site.url + "/instructor", timeout=30).text
    other_origin = admin.post(site.url + "/instructor/extensions", timeout=30,
                              headers={"Origin": "http://evil.elsewhere.test"},
                              data={"student": "s4", "assignment": A1, "due": "2030-01-01T00:00:00Z",
                                    "csrf_token": form_token(home)})
    assert other_origin.status_code == 403 and "another site" in error_of(other_origin)
    with sqlite3.connect(site.data_dir / "convgrade.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM extensions WHERE student_id = 's4'").fetchone()[0] == 0
    # the API with a bearer token and no cookie is not cookie-authorised: no token needed
    assert Client(site.url, site.admin_token).get("/api/v1/submissions").status_code == 200


def test_regrade_of_every_submission_asks_first(site, notebooks):
    admin, _ = signed_in(site, site.admin_token)
    home = admin.get(site.url + "/instructor", timeout=30).text
    before = Client(site.url, site.admin_token).get("/api/v1/submissions").json()["submissions"]
    asked = admin.post(site.url + "/instructor/regrade", data={"assignment": A1, "csrf_token": form_token(home)},
                       timeout=30)
    assert asked.status_code == 200 and 'id="confirm"' in asked.text and A1 in asked.text
    after = Client(site.url, site.admin_token).get("/api/v1/submissions").json()["submissions"]
    assert [s["status"] for s in after] == [s["status"] for s in before], "nothing was queued before the confirm"


# -- cookies and headers -----------------------------------------------------------------------

def _set_cookies(response):
    return response.raw.headers.getlist("Set-Cookie")


def test_cookie_flags_behind_the_configured_proxy(site):
    page = requests.get(site.url + "/", headers=HTTPS, timeout=30)
    [signin] = _set_cookies(page)
    assert signin.startswith("__Host-convgrade_signin=") and "; Secure" in signin and "SameSite=Strict" in signin
    assert "HttpOnly" in signin and "Path=/" in signin and page.headers["Strict-Transport-Security"]
    # the test's client stands on the proxy's far side: it sends the Secure cookie back over loopback HTTP
    nonce = signin.split(";")[0]
    response = requests.post(site.url + "/login", allow_redirects=False, timeout=30,
                             headers={**HTTPS, "Cookie": nonce},
                             data={"token": site.tokens["s4"], "csrf_token": form_token(page.text)})
    assert response.status_code == 303, response.text
    cookies = _set_cookies(response)
    assert cookies and all("; Secure" in c for c in cookies), cookies
    assert any(c.startswith("__Host-convgrade_session=") and "SameSite=Strict" in c for c in cookies)


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(tmp_path):
    service = Service(tmp_path / "data", trusted_proxies="10.0.0.0/8", workers=1).start()
    try:
        page = requests.get(service.url + "/", headers=HTTPS, timeout=30)
        [signin] = _set_cookies(page)
        assert signin.startswith("convgrade_signin=") and "Secure" not in signin
        assert "Strict-Transport-Security" not in page.headers
    finally:
        service.stop()


def test_every_response_has_a_content_security_policy_and_refuses_frames(site):
    admin, _ = signed_in(site, site.admin_token)
    for path in ("/", "/instructor", "/healthz", "/api/v1/assignments", "/no/such/page", f"/instructor/similarity/{A1}",
                 "/static/convgrade.css"):
        response = admin.get(site.url + path, timeout=60)
        policy = response.headers.get("Content-Security-Policy", "")
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, (path, policy)
        assert "script-src" not in policy and "unsafe-inline" not in policy
        assert response.headers.get("X-Frame-Options") == "DENY" and response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        if response.headers.get("Content-Type", "").startswith("text/html"):
            assert "<style" not in response.text and "style=" not in response.text, path


# -- the rate limit ----------------------------------------------------------------------------

def _simultaneous_uploads(url, token, notebook, count=8):
    barrier = threading.Barrier(count)

    def one(_):
        barrier.wait()
        return Client(url, token).submit(notebook, A1)
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _assert_exactly_one_accepted(responses):
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] + [429] * (len(responses) - 1), codes
    for refused in (r for r in responses if r.status_code == 429):
        assert re.search(r"try again in \d+ seconds", error_of(refused)) and int(refused.headers["Retry-After"]) > 0


def test_simultaneous_uploads_inside_the_interval_yield_exactly_one_202(site, notebooks):
    _assert_exactly_one_accepted(_simultaneous_uploads(site.url, site.tokens["r1"], notebooks["stubs"]))
    assert len(site.rows("student_id = 'r1'")) == 1


@pytest.mark.skipif(postgres_missing_reason() is not None, reason=str(postgres_missing_reason()))
def test_simultaneous_uploads_on_postgresql_yield_exactly_one_202(tmp_path, notebooks):
    with postgres_cluster(free_port()) as url:
        service = Service(tmp_path / "data", database_url=url, resubmit_seconds=RESUBMIT, workers=1)
        tokens = import_roster(service.data_dir, ["p1"], service.env)
        service.start()
        try:
            _assert_exactly_one_accepted(_simultaneous_uploads(service.url, tokens["p1"], notebooks["stubs"]))
        finally:
            service.stop()


# -- safe defaults -----------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["convgrade-local-admin-token", "short-but-private", ""])
def test_serve_refuses_a_public_address_with_a_weak_admin_token(tmp_path, token):
    env = {**Service(tmp_path / "data").env, "CONVGRADE_ADMIN_TOKEN": token}
    if not token:                          # unset: a generated one, that a stranger could not know
        (tmp_path / "data" / "admin_token").write_text("tiny\n")
    process = convgrade(env, "serve", "--host", "0.0.0.0", "--port", str(free_port()),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the service started on 0.0.0.0 with a weak admin token")
    assert process.returncode == 2 and "not serving" in err and "at least 32" in err, err


def test_a_generated_admin_token_is_private_and_strong_enough_to_serve_publicly(tmp_path):
    from grader.store.settings import Settings

    settings = Settings(data_dir=tmp_path / "data").prepare()
    stored = tmp_path / "data" / "admin_token"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and stored.read_text().strip() == settings.admin_token
    assert settings.public_bind_refusal("0.0.0.0") is None and settings.public_bind_refusal("127.0.0.1") is None


def test_compose_files_publish_no_admin_token():
    for name in ("docker-compose.yml", "docker-compose.scale.yml"):
        services = yaml.safe_load((REPO / name).read_text())["services"]
        for service_name, service in services.items():
            value = (service.get("environment") or {}).get("CONVGRADE_ADMIN_TOKEN")
            if value is not None:
                assert value == "${CONVGRADE_ADMIN_TOKEN:-}", (name, service_name, value)


def test_the_docs_write_tokens_without_a_tty_or_into_a_private_file():
    commands = []
    for doc in ("README.md", "docker/README.md", "config/README.md", "docs/lms.md", "docs/reference.md"):
        commands += [(doc, line) for line in (REPO / doc).read_text().splitlines() if "students import" in line
                     and ("docker compose exec" in line or ">" in line)]
    assert commands
    for doc, line in commands:
        assert "exec -T" in line or "--out" in line, (doc, line)
    assert "--out" in (REPO / "README.md").read_text()


def test_data_is_private_whatever_the_umask(tmp_path, notebooks):
    service = Service(tmp_path / "data", workers=1)
    service.env.pop("CONVGRADE_ADMIN_TOKEN")
    old = os.umask(0)
    try:
        service.start()
        token = (service.data_dir / "admin_token").read_text().strip()
        response = Client(service.url, token).submit(notebooks["stubs"], A1)
        assert response.status_code == 202, response.text
    finally:
        os.umask(old)
        service.stop()
    data = service.data_dir
    for folder in (data, data / "submissions"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [data / "admin_token", *data.glob("convgrade.sqlite3*"), *(data / "submissions").iterdir()]
    assert any(f.suffix == ".ipynb" for f in files) and any(f.name == "convgrade.sqlite3" for f in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- what held before, kept ------------------------------------------------------------------

def test_a_signed_in_student_sees_only_their_own_submission_pages(site, notebooks):
    admin_id = Client(site.url, site.admin_token).submit(notebooks["stubs"], A1).json()["id"]
    browser, _ = signed_in(site, site.tokens["s1"])
    assert browser.get(f"{site.url}/submissions/{admin_id}", timeout=30).status_code == 404
    for path in ("/instructor", "/instructor/gradebook.csv", f"/instructor/similarity/{A1}"):
        assert browser.get(site.url + path, timeout=30).status_code == 403, path
    page = browser.get(site.url + "/", timeout=30).text
    forged = browser.post(site.url + "/instructor/extensions", timeout=30, data={
        "student": "s1", "assignment": A1, "due": "2030-01-01T00:00:00Z", "csrf_token": form_token(page)})
    assert forged.status_code == 403, "a student's own valid token does not make them the instructor"


def test_path_traversal_and_stored_markup_are_refused(site, notebooks):
    for path in ("/static/../app.py", "/static/..%2fapp.py", "/submissions/..%2f..%2fconvgrade.sqlite3",
                 "/instructor/similarity/..%2f..%2fetc"):
        response = requests.get(site.url + path, timeout=30)
        assert response.status_code in (401, 403, 404) and "SQLite" not in response.text and "import" not in response.text
    markup = '<img src=x onerror="alert(1)">.ipynb'
    body = Client(site.url, site.tokens["s4"]).submit(notebooks["stubs"], A1, filename="../../" + markup).json()
    stored = site.rows(f"id = '{body['id']}'")[0]
    assert stored["path"] == f"submissions/{body['id']}.ipynb" and "/" not in stored["filename"]
    admin, _ = signed_in(site, site.admin_token)
    page = admin.get(f"{site.url}/submissions/{body['id']}", timeout=30).text
    assert "<img src=x" not in page and "&lt;img src=x onerror=" in page


# -- in a real Chromium: pages on other sites ----------------------------------------------------

@pytest.fixture(scope="module")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    rules = ", ".join(f"MAP {host} {HOST}" for host in (GRADER_HOST, SAME_SITE_HOST, CROSS_SITE_HOST))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            *CHROMIUM_ARGS, f"--host-resolver-rules={rules}", "--disable-features=HttpsUpgrades"])
        yield browser
        browser.close()


@pytest.fixture
def tab(chromium):
    """A page that reaches only the three loopback names (and 127.0.0.1)."""
    context = chromium.new_context()
    allowed = "|".join(re.escape(h) for h in (GRADER_HOST, SAME_SITE_HOST, CROSS_SITE_HOST, HOST))
    context.route(re.compile(rf"^(?!http://({allowed}):\d+/).*"), lambda route: route.abort())
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def other_pages():
    """A web server on loopback for the other sites' pages: {path: html}; the same server answers
    for student.course.test and evil.elsewhere.test."""
    pages = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield pages, server.server_address[1]
    server.shutdown()


def _auto_post(action, fields):
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return f'<form method="post" action="{action}">{inputs}</form><script>document.forms[0].submit()</script>'


def _grader(site):
    return site.url.replace(HOST, GRADER_HOST)


def _sign_in(tab, site, token):
    tab.goto(_grader(site) + "/")
    tab.fill("#token", token)
    tab.click("#login")
    tab.wait_for_load_state()


def _attack(tab, other_pages, host, action, fields):
    pages, port = other_pages
    path = f"/attack-{len(pages)}"
    pages[path] = _auto_post(action, fields)
    tab.goto(f"http://{host}:{port}{path}")
    tab.wait_for_url(lambda url: url.startswith(action.split("/", 3)[0] + "//" + action.split("/", 3)[2]), timeout=30_000)
    tab.wait_for_load_state()


def _browser_identity(tab, site):
    tab.goto(_grader(site) + "/")
    return None if tab.query_selector("#token") else re.search(r"· (\S+)", tab.inner_text("nav")).group(1)


def test_login_csrf_a_cross_site_page_cannot_sign_the_browser_in(site, tab, other_pages):
    classmate = {"token": site.tokens["s2"]}
    _attack(tab, other_pages, CROSS_SITE_HOST, _grader(site) + "/login", classmate)
    assert _browser_identity(tab, site) is None, "a fresh browser stays signed out"
    _sign_in(tab, site, site.tokens["s1"])
    assert _browser_identity(tab, site) == "s1"
    _attack(tab, other_pages, CROSS_SITE_HOST, _grader(site) + "/login", classmate)
    assert _browser_identity(tab, site) == "s1", "the victim's own session is kept"


def test_instructor_forms_refuse_a_same_site_page(site, tab, other_pages):
    _sign_in(tab, site, site.admin_token)
    tab.select_option(f"#extend-student-{A1}", "s2")              # the instructor's own form works
    tab.fill(f"#extend-due-{A1}", "2031-01-01T00:00:00Z")
    tab.click(f"#extend-{A1}")
    tab.wait_for_selector("#message")
    assert "s2" in tab.inner_text(f"#extensions-{A1}")
    extension = {"student": "s3", "assignment": A1, "due": "2031-01-01T00:00:00Z"}
    _attack(tab, other_pages, SAME_SITE_HOST, _grader(site) + "/instructor/extensions", extension)
    _attack(tab, other_pages, CROSS_SITE_HOST, _grader(site) + "/instructor/roster/token",
            {"student": "s3", "confirmed": "1"})
    with sqlite3.connect(site.data_dir / "convgrade.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM extensions WHERE student_id = 's3'").fetchone()[0] == 0
    assert Client(site.url, site.tokens["s3"]).get("/api/v1/submissions").status_code == 200, "s3's token still works"
    assert _browser_identity(tab, site) == "(instructor)", "the instructor is still signed in"


# -- LTI: one session per browser, framed only by the platform ---------------------------------

@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    from lti_platform import Platform, rsa_pem_pair

    root = tmp_path_factory.mktemp("lti")
    platform = Platform().serve()
    private, public = rsa_pem_pair()
    (root / "tool_private.pem").write_text(private)
    (root / "tool_public.pem").write_text(public)
    config = root / "lti.json"
    config.write_text(json.dumps(platform.tool_config(root / "tool_private.pem", root / "tool_public.pem")))
    service = Service(root / "data", lti_config=config, workers=1, trusted_proxies="127.0.0.1")
    service.tokens = import_roster(service.data_dir, ["t1"], service.env)
    service.start()
    platform.tool_url = service.url
    yield platform, service
    service.stop()
    platform.stop()


def _launch(platform, user_id, browser=None, headers=None):
    """Tool login -> platform auth -> the form post to the tool; cookies carried by hand, so the
    Secure ones set behind the (simulated) TLS proxy come back over loopback HTTP too."""
    jar = dict(browser.cookies) if browser is not None else {}

    def cookie_header():
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}

    def keep(response):
        for cookie in _set_cookies(response):
            name, _, value = cookie.split(";")[0].partition("=")
            jar[name] = value
    login = requests.get(platform.start_launch(user_id=user_id, custom={"assignment": A1}), allow_redirects=False,
                         headers={**(headers or {}), **cookie_header()}, timeout=30)
    assert login.status_code == 302, login.text
    keep(login)
    form = requests.get(login.headers["Location"], timeout=30)
    action = unescape(re.search(r'action="([^"]+)"', form.text).group(1))
    fields = {name: unescape(value) for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', form.text)}
    launched = requests.post(action, data=fields, allow_redirects=False, timeout=30,
                             headers={**(headers or {}), **cookie_header()})
    assert launched.status_code == 303, launched.text
    keep(launched)
    if browser is not None:
        browser.cookies.clear()
        for name, value in jar.items():
            if value:
                browser.cookies.set(name, value, domain=HOST, path="/")
    return login, launched, jar


def test_a_token_session_never_outranks_a_newer_lti_session(lms):
    platform, service = lms
    browser, _ = signed_in(service, service.tokens["t1"])
    token_session = browser.cookies["convgrade_session"]
    _launch(platform, "u-newer", browser)
    assert who(service, browser).startswith("lti:u-newer@"), "the launch replaced the token session"
    lti_session = browser.cookies["convgrade_session"]
    stale = requests.Session()
    stale.cookies.set("convgrade_session", token_session)
    assert who(service, stale) is None, "the token session ended with the launch"
    signed_in(service, service.tokens["t1"], browser)
    assert who(service, browser) == "t1"
    stale.cookies.set("convgrade_session", lti_session)
    assert who(service, stale) is None, "and the LTI session with the next sign-in"


def test_the_lti_session_behind_tls_is_samesite_none_secure_and_framed_only_by_the_platform(lms):
    platform, service = lms
    login, launched, jar = _launch(platform, "u-framed", headers=HTTPS)
    every = _set_cookies(login) + _set_cookies(launched)
    assert every and all("; Secure" in c for c in every), every
    [session_cookie] = [c for c in _set_cookies(launched) if c.startswith("__Host-convgrade_session=")]
    assert "SameSite=None" in session_cookie and "HttpOnly" in session_cookie
    cookie = {"Cookie": f"__Host-convgrade_session={jar['__Host-convgrade_session']}"}
    page = requests.get(service.url + launched.headers["Location"], headers={**HTTPS, **cookie}, timeout=30)
    assert "lti:u-framed@" in page.text
    policy = page.headers["Content-Security-Policy"]
    assert f"frame-ancestors {platform.url}" in policy and "X-Frame-Options" not in page.headers, policy
    # a token sign-in's pages are framed by nobody
    signed = requests.get(service.url + "/", headers=HTTPS, timeout=30)
    assert "frame-ancestors 'none'" in signed.headers["Content-Security-Policy"]
