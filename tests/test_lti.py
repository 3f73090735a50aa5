"""LTI 1.3 end to end: a real platform (lti1p3platform, tests/lti_platform.py) and a real
`convgrade serve` on loopback, real RSA keys and JWKS on both sides.

Launch -> the student submits with no token -> graded -> the score arrives at the
platform's AGS endpoint; a forged signature, an expired id_token, a wrong audience and a
replayed launch are refused; with the LMS down the passback waits in the outbox and is
delivered when it is back; the roster comes through NRPS. Slow-ish: one service start and
three grades of a1 (about 40 s on 2 vCPU).
"""

import json
import re
import sqlite3
import time
from html import unescape

import pytest
import requests

from lti_platform import Platform, rsa_pem_pair
from service_harness import Service, convgrade
from submissions import make_submission

ASSIGNMENT = "a1_cross_correlation"


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    """The platform, and a service that trusts it (CONVGRADE_LTI_CONFIG)."""
    root = tmp_path_factory.mktemp("lti")
    platform = Platform().serve()
    private, public = rsa_pem_pair()
    (root / "tool_private.pem").write_text(private)
    (root / "tool_public.pem").write_text(public)
    config = root / "lti.json"
    config.write_text(json.dumps(platform.tool_config(root / "tool_private.pem", root / "tool_public.pem")))
    service = Service(root / "data", lti_config=config, lti_retry_seconds=1, workers=1)
    service.start()
    platform.tool_url = service.url
    yield platform, service
    service.stop()
    platform.stop()


def launch(platform, browser, **options):
    """Drive a browser through the launch: tool login -> platform auth -> form post to the tool."""
    login = browser.get(platform.start_launch(**options), allow_redirects=False, timeout=30)
    assert login.status_code == 302, login.text
    assert login.headers["Location"].startswith(platform.url + "/auth?")
    form = browser.get(login.headers["Location"], timeout=30)
    assert form.status_code == 200, form.text
    action = unescape(re.search(r'action="([^"]+)"', form.text).group(1))
    fields = {name: unescape(value) for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', form.text)}
    return action, fields, browser.post(action, data=fields, allow_redirects=False, timeout=30)


def student_id(platform, user_id):
    """The student a launch of `user_id` from `platform` signs in: `lti:<sub>@<host>#<digest>`."""
    from grader.doors.lti.links import student_id_for

    found = student_id_for(platform.issuer, platform.client_id, platform.deployment_id, user_id)
    assert found.startswith(f"lti:{user_id}@{platform.issuer.split('//')[1]}#")
    return found


def signed_in_as(service, browser):
    """Who the browser's session is, per the API (no Authorization header)."""
    response = browser.get(service.url + "/api/v1/submissions", timeout=30)
    return response.status_code, (response.json() if response.ok else None)


def passbacks(service):
    with sqlite3.connect(service.data_dir / "convgrade.sqlite3", timeout=30) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM passbacks ORDER BY id")]


def wait_until(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_launch_submit_grade_and_the_score_reaches_the_platform(lms):
    platform, service = lms
    browser = requests.Session()
    _, _, response = launch(platform, browser, user_id="u-learner-1", name="Ada Learner",
                            custom={"assignment": ASSIGNMENT})
    assert response.status_code == 303, response.text
    page = browser.get(service.url + response.headers["Location"], timeout=30)
    assert page.status_code == 200 and "Submit a notebook" in page.text
    assert f'<option value="{ASSIGNMENT}" selected>' in page.text, "the launched assignment is preselected"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    notebook = make_submission(ASSIGNMENT)
    files = {"notebook": ("a1.ipynb", notebook, "application/x-ipynb+json")}
    refused = browser.post(service.url + "/api/v1/submissions", files=files, timeout=30)
    assert refused.status_code == 403, "a session-authenticated POST without the CSRF token is refused"
    submitted = browser.post(service.url + "/api/v1/submissions?wait=120", files=files,
                             headers={"X-CSRF-Token": csrf}, timeout=150)
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["student_id"] == student_id(platform, "u-learner-1")
    assert body["result"]["score"] == body["result"]["max_score"] > 0

    assert wait_until(lambda: platform.scores), f"no score reached the platform: {passbacks(service)}"
    score = platform.scores[-1]
    assert score["userId"] == "u-learner-1" and score["lineitem"] == "rl-a1"
    assert score["scoreGiven"] == body["result"]["score"] and score["scoreMaximum"] == body["result"]["max_score"]
    assert score["gradingProgress"] == "FullyGraded" and score["activityProgress"] == "Completed"
    # the row says "sent" once the platform has answered: a moment after the score arrives there
    assert wait_until(lambda: [r["status"] for r in passbacks(service)] == ["sent"]), passbacks(service)
    [row] = passbacks(service)
    assert row["status"] == "sent" and row["submission_id"] == body["id"]


@pytest.mark.parametrize("variant, reason", [
    ({"forged": True}, "Signature verification failed"),
    ({"expired": True}, "expired"),
    ({"audience": "some-other-tool"}, "Client id not registered"),
])
def test_bad_launches_are_refused(lms, variant, reason):
    platform, service = lms
    browser = requests.Session()
    _, _, response = launch(platform, browser, user_id="u-learner-2", custom={"assignment": ASSIGNMENT}, **variant)
    assert response.status_code == 401 and reason in response.json()["error"], response.text
    assert signed_in_as(service, browser)[0] == 401, "a refused launch signs nobody in"


def test_a_replayed_launch_is_refused(lms):
    platform, service = lms
    action, fields, first = launch(platform, requests.Session(), user_id="u-learner-2",
                                   title=ASSIGNMENT, resource_link_id="rl-title")
    assert first.status_code == 303 and f"assignment={ASSIGNMENT}" in first.headers["Location"], \
        "the link's title names the assignment when there is no custom parameter"
    attacker = requests.Session()
    replayed = attacker.post(action, data=fields, allow_redirects=False, timeout=30)
    assert replayed.status_code == 401 and "Invalid Nonce" in replayed.json()["error"], replayed.text
    assert signed_in_as(service, attacker)[0] == 401


def test_lms_down_then_the_passback_is_delivered(lms):
    platform, service = lms
    browser = requests.Session()
    _, _, response = launch(platform, browser, user_id="u-learner-3", custom={"assignment": ASSIGNMENT},
                            resource_link_id="rl-down")
    page = browser.get(service.url + response.headers["Location"], timeout=30)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    platform.down = True
    try:
        wrong = make_submission(ASSIGNMENT, {"corr2d": "def corr2d(X, K):\n    return X\n"})
        submitted = browser.post(service.url + "/api/v1/submissions?wait=120", headers={"X-CSRF-Token": csrf},
                                 files={"notebook": ("a1.ipynb", wrong, "application/x-ipynb+json")}, timeout=150)
        assert submitted.status_code == 200, submitted.text
        result = submitted.json()["result"]
        assert wait_until(lambda: any(r["submission_id"] == submitted.json()["id"] and r["attempts"] >= 2
                                      for r in passbacks(service)), timeout=30), passbacks(service)
        row = next(r for r in passbacks(service) if r["submission_id"] == submitted.json()["id"])
        assert row["status"] in ("pending", "sending") and "503" in (row["last_error"] or "")
        assert not any(s["lineitem"] == "rl-down" for s in platform.scores)
    finally:
        platform.down = False
    assert wait_until(lambda: any(s["lineitem"] == "rl-down" for s in platform.scores), timeout=60), passbacks(service)
    delivered = next(s for s in platform.scores if s["lineitem"] == "rl-down")
    assert delivered["scoreGiven"] == result["score"] < result["max_score"]
    assert wait_until(lambda: all(r["status"] == "sent" for r in passbacks(service)))


def test_roster_through_nrps(lms):
    platform, service = lms
    launch(platform, requests.Session(), user_id="u-teacher", role="http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
           custom={"assignment": ASSIGNMENT})
    nobody = requests.post(service.url + "/lti/roster", timeout=30)
    assert nobody.status_code == 401
    imported = requests.post(service.url + "/lti/roster", timeout=60,
                             headers={"Authorization": f"Bearer {service.admin_token}"})
    assert imported.status_code == 200, imported.text
    ids = {s["student_id"] for s in imported.json()["students"]}
    assert ids == {student_id(platform, "u-learner-1"), student_id(platform, "u-learner-2")}, \
        "learners only, active only, with the ids their launches give them"
    with sqlite3.connect(service.data_dir / "convgrade.sqlite3") as db:
        names = dict(db.execute("SELECT student_id, name FROM students"))
    assert names[student_id(platform, "u-learner-2")] == "Grace Learner"
    cli = convgrade(service.env, "lti", "roster", stdout=-1, stderr=-1, text=True)
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 0, err
    assert f"{student_id(platform, 'u-learner-1')},Ada Learner" in out.splitlines()


def test_jwks_is_the_tools_public_key(lms):
    platform, service = lms
    keys = requests.get(service.url + "/lti/jwks", timeout=30).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]
