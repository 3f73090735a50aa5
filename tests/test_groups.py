"""Mistake groups (CONTRACT.md sections 3 and 6): the wrong submissions of a course grouped by
their failed checks and diagnoses, the instructor's comment on a group reaching every submission
in it (later ones too), regrading a group, and `convgrade groups`.

The signature and the comments' store are tested on a real SQLite file with results written out
(a diagnosis included, as the engine adds one); the rest through a real `convgrade serve` on
loopback with a small course of a4_pooling submissions planted from tests/corpus/ (graded once for
the module, about 30 s on 2 cores). The course of 200 is marked slow.
"""

import functools
import json
import os
import random
import re
import subprocess
from html import unescape
from urllib.parse import unquote_plus

import pytest
import requests

from browser import browser, page  # noqa: F401  (the fixtures)
from service_harness import REPO, Client, Service, convgrade, form_token, import_roster, signed_in
from submissions import CorpusEntry, corpus, make_submission

A4 = "a4_pooling"


# -- the signature and the comments' table, on a real SQLite store ---------------------------------

def _result(*failed, gradable=True):
    """A result whose checks named in `failed` ((id, diagnosis or None)) failed and two others passed."""
    tests = [{"id": check, "number": f"pool2d.{n}", "name": check, "exercise": "pool2d", "status": "failed",
              "score": 0.0, "max_score": 1.0, "output": f"{check} went wrong", "visibility": "visible",
              **({"diagnosis": diagnosis} if diagnosis else {})} for n, (check, diagnosis) in enumerate(failed, 3)]
    tests += [{"id": f"ok{n}", "number": f"pool2d.{n}", "name": "fine", "exercise": "pool2d", "status": "passed",
               "score": 1.0, "max_score": 1.0, "output": "", "visibility": "visible"} for n in (1, 2)]
    return {"assignment": A4, "gradable": gradable, "score": 2.0, "max_score": 2.0 + len(failed), "tests": tests,
            **({} if gradable else {"format_errors": ["not a notebook"], "tests": []})}


@pytest.fixture
def store(tmp_path):
    from grader.store.db import sessions_for

    return sessions_for(f"sqlite:///{tmp_path / 'convgrade.sqlite3'}")


def _stored(store, student, result, status="done", minute=0):
    import datetime

    from grader.store.db import Submission, new_id

    with store() as session:
        row = Submission(id=new_id(), student_id=student, assignment=A4, path="x.ipynb", status=status,
                         result_json=json.dumps(result) if result else None,
                         created_at=datetime.datetime(2026, 9, 1, 12, minute))
        session.add(row)
        session.commit()
    return row.id


ZEROS = "Your max pooling pads with zeros."


def test_a_signature_is_the_failed_checks_with_their_diagnoses(store):
    """Same failures, same diagnosis: one group; the same failure diagnosed otherwise (or not at
    all) is another mistake; a right answer is in no group; only a student's latest graded
    submission counts; the largest group comes first."""
    from grader.operations import groups

    for student in ("a", "b", "c"):
        _stored(store, student, _result(("test_max_padding", ZEROS)))
    _stored(store, "d", _result(("test_max_padding", None)))
    _stored(store, "e", _result(("test_max_padding", "Something else.")))
    _stored(store, "f", _result(("test_stride", None), ("test_max_padding", ZEROS)))
    _stored(store, "g", _result())
    _stored(store, "h", _result(("test_max_padding", ZEROS)), minute=0)
    _stored(store, "h", _result(), minute=5)                          # fixed it since
    _stored(store, "i", _result(), minute=0)
    _stored(store, "i", _result(("test_stride", None)), minute=5)      # broke it since
    _stored(store, "i", None, status="queued", minute=9)              # not graded yet: not counted
    _stored(store, "j", _result(gradable=False))
    with store() as session:
        found = groups.groups(session, A4)
    assert [(g["students"], [(c["id"], c["diagnosis"]) for c in g["checks"]]) for g in found][0] == \
        (["a", "b", "c"], [("test_max_padding", ZEROS)])
    assert sorted(g["students"] for g in found[1:]) == [["d"], ["e"], ["f"], ["i"], ["j"]]
    assert [c["id"] for c in next(g for g in found if g["students"] == ["j"])["checks"]] == [groups.UNGRADABLE]
    assert next(g for g in found if g["students"] == ["f"])["message"]["diagnosis"] is None  # pool2d.3 first
    assert found[0]["message"]["output"] == "test_max_padding went wrong"
    with store() as session:
        left = [g["students"] for g in groups.groups(session, A4, leave_out=("a", "b"))]
    assert ["c"] in left and not any({"a", "b"} & set(students) for students in left)


def test_a_comment_reaches_the_group_later_submissions_included_and_keeps_its_history(store):
    from grader.operations import groups

    _stored(store, "a", _result(("test_max_padding", ZEROS)))
    _stored(store, "b", _result(("test_max_padding", None)))
    with store() as session:
        key = next(g["key"] for g in groups.groups(session, A4) if g["students"] == ["a"])
        groups.write_comment(session, A4, key, "  See section 4.2: pad with -inf.  ", author="prof")
        groups.write_comment(session, A4, key, "Section 4.2 says: pad with -inf.", author="ta")
        with pytest.raises(LookupError):
            groups.write_comment(session, A4, "0" * 64, "nobody is in this group", author="prof")
    tomorrow = _result(("test_max_padding", ZEROS))
    other = _result(("test_max_padding", None))
    with store() as session:
        commented, uncommented, right, none = groups.with_comments(session, A4, [tomorrow, other, _result(), None])
        [group] = [g for g in groups.groups(session, A4) if g["key"] == key]
        from grader.store.db import GroupComment
        kept = [(r.comment, r.author) for r in session.query(GroupComment).order_by(GroupComment.id)]
    assert [t.get("comment") for t in commented["tests"]] == ["Section 4.2 says: pad with -inf.", None, None]
    assert "comment" not in tomorrow["tests"][0], "the stored result is not changed"
    assert not any("comment" in t for r in (uncommented, right) for t in r["tests"]) and none is None
    assert group["comment"]["comment"] == "Section 4.2 says: pad with -inf." and group["comment"]["author"] == "ta"
    assert kept == [("See section 4.2: pad with -inf.", "prof"), ("Section 4.2 says: pad with -inf.", "ta")]
    with store() as session:
        groups.write_comment(session, A4, key, "", author="prof")
        [again] = groups.with_comments(session, A4, [tomorrow])
        assert not any("comment" in t for t in again["tests"])
        assert next(g for g in groups.groups(session, A4) if g["key"] == key)["comment"] is None


# -- a planted course on a real service ------------------------------------------------------------

@functools.cache
def _entries():
    """{kind: (notebook bytes, the set of checks it must fail; None: not known in advance)}: the
    corpus's a4 entries that run on a CPU, the reference and the released stubs."""
    kinds = {e.name: (e.submission(), e.loses) for e in corpus(A4) if "cuda" not in e.needs}
    kinds["reference"] = (make_submission(A4), set())
    kinds["stubs"] = (make_submission(A4, reference=False), None)
    return kinds


def grade_course(service, planted, workers_timeout=900, also_on_roster=()):
    """Import the students, submit each one's planted kind, wait for the grades; return {student:
    submission id}."""
    kinds = _entries()
    tokens = import_roster(service.data_dir, sorted(planted) + list(also_on_roster), service.env)
    ids = {}
    for student, kind in planted.items():
        response = Client(service.url, tokens[student]).submit(kinds[kind][0], A4)
        assert response.status_code == 202, response.text
        ids[student] = response.json()["id"]
    bodies = Client(service.url, service.admin_token).wait_done(list(ids.values()), timeout=workers_timeout)
    assert all(b["status"] == "done" for b in bodies.values()), [b.get("error") for b in bodies.values()]
    service.tokens = tokens
    return ids


def assert_groups_match(found, planted):
    """The groups are the planted mistakes: every wrong student in exactly one group, whose failed
    checks are the ones their corpus entry plants; students of one entry together; entries that
    plant different failures apart; correct answers in none; largest first."""
    loses = {kind: failed for kind, (_, failed) in _entries().items()}
    group_of = {}
    for group in found:
        assert group["count"] == len(group["students"]) == len(group["submissions"])
        for student in group["students"]:
            assert student not in group_of, f"{student} is in two groups"
            group_of[student] = group
    assert [g["count"] for g in found] == sorted((g["count"] for g in found), reverse=True)
    for student, kind in planted.items():
        failed = loses[kind]
        if failed == set():
            assert student not in group_of, f"{student} ({kind}) is right, yet in a group"
            continue
        checks = {c["id"] for c in group_of[student]["checks"]}
        if failed is None:   # the stubs: every value check fails
            assert {"test_course_examples", "test_max_random", "test_avg_random"} <= checks, (kind, checks)
        else:
            assert checks == failed, (student, kind, checks)
    by_kind = {}
    for student, kind in planted.items():
        if student in group_of:
            by_kind.setdefault(kind, set()).add(group_of[student]["key"])
    assert all(len(keys) == 1 for keys in by_kind.values()), by_kind
    for a, (key_a,) in by_kind.items():
        for b, (key_b,) in by_kind.items():
            if loses[a] != loses[b] or (loses[a] is None) != (loses[b] is None):
                assert key_a != key_b, f"{a} and {b} plant different mistakes yet share a group"


SMALL = {"s01": "max_zero_padding", "s02": "max_zero_padding", "s03": "max_zero_padding",
         "s04": "stride_one_axis", "s05": "stride_one_axis", "s06": "loop_2d_only", "s07": "loop_2d_only",
         "s08": "no_mode_check", "s09": "stubs", "s10": "reference", "s11": "reference",
         "s12": "correct_as_strided"}
COMMENT = "Max pooling pads with -inf, never with zeros (notebook section 2): `F.pad(X, ..., value=-inf)`."


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    service = Service(tmp_path_factory.mktemp("groups") / "data", workers=2)
    service.start()
    # "tomorrow" submits only after the instructor has written a comment
    service.ids = grade_course(service, SMALL, also_on_roster=["tomorrow"])
    yield service
    service.stop()


def _groups_page(browser, course, **params):
    page = browser.get(f"{course.url}/instructor/groups/{A4}", params=params, timeout=60)
    assert page.status_code == 200, page.text
    return page.text


def _page_groups(html):
    """[(key, count, [students], [check ids])] as the page lists them."""
    rows = re.findall(r'<tr class="group" id="[^"]+" data-key="(\w+)" data-count="(\d+)">(.*?)</tr>', html, re.S)
    return [(key, int(count), re.findall(r"<li>([^<]+)</li>", body), re.findall(r'data-check="([^"]+)"', body))
            for key, count, body in rows]


def _cli_groups(course, *args):
    process = convgrade(course.env, "groups", A4, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out, err


def test_the_course_home_lists_the_planted_mistakes_as_groups(course):
    browser, _ = signed_in(course, course.admin_token)
    home = browser.get(course.url + "/instructor", timeout=60).text
    assert re.search(rf'id="groups-{A4}"[^>]*>Mistake groups</a>:\s*9 wrong submission\(s\) in 5 group\(s\)', home), \
        re.findall(r'class="mistakes">.*?</p>', home, re.S)
    found = json.loads(_cli_groups(course, "--json")[0])["groups"]
    assert_groups_match(found, SMALL)
    assert [(g["key"], g["count"], g["students"], [c["id"] for c in g["checks"]]) for g in found] == \
        [(key, count, students, checks) for key, count, students, checks in _page_groups(_groups_page(browser, course))]
    largest = found[0]
    assert largest["students"] == ["s01", "s02", "s03"] and largest["count"] == 3
    assert largest["message"]["number"] == largest["checks"][0]["number"] and largest["message"]["output"]


def test_a_pass_rate_links_to_the_groups_behind_its_failures(course):
    browser, _ = signed_in(course, course.admin_token)
    home = browser.get(course.url + "/instructor", timeout=60).text
    links = dict((unescape(check), unescape(href)) for href, check in re.findall(
        r'<a class="failures"[^>]*href="([^"]+\?check=([^"]+))"', home))
    # each student submitted once, so the counted submission is the latest: a check fails in the
    # pass rates exactly when it fails in a group
    failing = {c["id"] for g in json.loads(_cli_groups(course, "--json")[0])["groups"] for c in g["checks"]}
    assert set(links) == failing and "test_max_padding_is_minus_inf" in links
    shown = _page_groups(browser.get(course.url + links["test_max_padding_is_minus_inf"], timeout=60).text)
    students = {s for _, _, names, _ in shown for s in names}
    assert {"s01", "s02", "s03", "s09"} <= students and not students & {"s04", "s05", "s06", "s07", "s08"}
    assert all("test_max_padding_is_minus_inf" in checks for _, _, _, checks in shown)


def test_a_comment_reaches_the_group_and_a_later_submission_with_the_same_mistake(course):
    browser, _ = signed_in(course, course.admin_token)
    html = _groups_page(browser, course)
    [key] = [k for k, _, students, _ in _page_groups(html) if "s01" in students]
    refused = browser.post(f"{course.url}/instructor/groups/comment", allow_redirects=False, timeout=60,
                           data={"assignment": A4, "key": key, "comment": "no CSRF token"})
    assert refused.status_code == 403
    saved = browser.post(f"{course.url}/instructor/groups/comment", allow_redirects=False, timeout=60,
                         data={"assignment": A4, "key": key, "comment": COMMENT, "csrf_token": form_token(html)})
    assert saved.status_code == 303, saved.text
    assert COMMENT in unescape(_groups_page(browser, course))

    def comments(body):
        return [t.get("comment") for t in body["result"]["tests"] if t.get("comment")]
    admin = Client(course.url, course.admin_token)
    for student in ("s01", "s02", "s03"):
        body = admin.get(f"/api/v1/submissions/{course.ids[student]}").json()
        assert comments(body) == [COMMENT]
        first_failed = next(t for t in body["result"]["tests"] if t["status"] != "passed")
        assert first_failed.get("comment") == COMMENT
        assert any(t.get("comment") == COMMENT for ex in body["exercises"] for t in ex["tests"])
    for student in ("s04", "s09", "s10"):
        assert comments(admin.get(f"/api/v1/submissions/{course.ids[student]}").json()) == []
    # tomorrow: a student who had not submitted makes the same mistake, and reads the comment at once
    notebook, _ = _entries()["max_zero_padding"]
    later = Client(course.url, course.tokens["tomorrow"]).submit(notebook, A4, wait=300)
    assert later.status_code == 200 and later.json()["status"] == "done", later.text
    assert comments(later.json()) == [COMMENT]
    again = Client(course.url, course.tokens["tomorrow"]).get(f"/api/v1/submissions/{later.json()['id']}").json()
    assert comments(again) == [COMMENT]
    out, _ = _cli_groups(course)
    assert re.search(r"^\s*4\s+pool2d\.\d+\s.*Max pooling pads with -inf.*tomorrow", out, re.M), out


def test_regrading_a_group_goes_through_the_queue_and_keeps_the_comment_with_the_history(course):
    browser, _ = signed_in(course, course.admin_token)
    html = _groups_page(browser, course)
    [(key, count, students, _)] = [g for g in _page_groups(html) if "s04" in g[2]]
    token = form_token(html)
    asked = browser.post(f"{course.url}/instructor/groups/regrade", timeout=60,
                         data={"assignment": A4, "key": key, "csrf_token": token})
    assert asked.status_code == 200 and f"Regrade the {count} submission(s)" in unescape(asked.text)
    browser.post(f"{course.url}/instructor/groups/comment", timeout=60,
                 data={"assignment": A4, "key": key, "comment": "stride is a pair", "csrf_token": token})
    done = browser.post(f"{course.url}/instructor/groups/regrade", allow_redirects=False, timeout=60,
                        data={"assignment": A4, "key": key, "confirmed": "1", "csrf_token": form_token(asked.text)})
    assert done.status_code == 303 and f"queued {count} submission(s)" in unquote_plus(done.headers["Location"])
    admin = Client(course.url, course.admin_token)
    bodies = admin.wait_done([course.ids[s] for s in students], timeout=300)
    for body in bodies.values():
        assert len(body["history"]) == 1
        assert [t.get("comment") for t in body["result"]["tests"] if t.get("comment")] == ["stride is a pair"]
        assert [t.get("comment") for t in body["history"][0]["result"]["tests"] if t.get("comment")] == \
            ["stride is a pair"]
    untouched = admin.get(f"/api/v1/submissions/{course.ids['s01']}").json()
    assert untouched["history"] == []


def test_the_instructor_answers_a_group_from_the_course_home_in_chromium(course, page):
    """Course home -> the assignment's mistake groups -> a comment typed and saved in the form."""
    page.goto(course.url + "/")
    page.fill("#token", course.admin_token)
    page.click("#login")
    page.wait_for_load_state()
    page.click(f"#groups-{A4}")
    page.wait_for_selector("#groups")
    row = page.locator("tr.group", has_text="s06")
    assert row.locator(".students li").all_inner_texts() == ["s06", "s07"]
    row.locator("textarea").fill("Pool every leading dimension: loop over X.shape[:-2] (section 3).")
    row.locator("button.save-comment").click()
    page.wait_for_selector("#message")
    assert "comment is saved" in page.inner_text("#message")
    assert "section 3" in page.locator("tr.group", has_text="s06").locator("textarea").input_value()
    body = Client(course.url, course.tokens["s06"]).get(f"/api/v1/submissions/{course.ids['s06']}").json()
    assert [t["comment"] for t in body["result"]["tests"] if t.get("comment")] == [
        "Pool every leading dimension: loop over X.shape[:-2] (section 3)."]
    if os.environ.get("CONVGRADE_UPDATE_SCREENSHOT"):                 # `make screenshots`
        page.set_viewport_size({"width": 1200, "height": 900})
        page.screenshot(path=str(REPO / "docs/mistake-groups.png"))


def test_convgrade_groups_prints_an_aligned_table(course):
    out, err = _cli_groups(course)
    found = json.loads(_cli_groups(course, "--json")[0])["groups"]
    lines = out.splitlines()
    assert lines[0].split() == ["count", "failed", "checks", "first", "message", "comment", "students"]
    starts = [lines[0].index(word) for word in ("failed checks", "first message", "students")]
    for line, group in zip(lines[1:], found, strict=True):
        assert all(line[at - 2:at] == "  " and line[at] != " " for at in starts), (starts, line)
        assert int(line[:len("count")]) == group["count"] and line[starts[-1]:] == ", ".join(group["students"])
    assert f"{sum(g['count'] for g in found)} wrong submission(s) of a4_pooling in 5 group(s)" in err
    missing = convgrade(course.env, "groups", "a9_nothing", stderr=subprocess.PIPE, text=True)
    assert missing.wait(timeout=60) == 2 and "no assignment 'a9_nothing'" in missing.stderr.read()


# -- the course of 200 -------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_course_of_200_groups_by_the_planted_mistakes(tmp_path):
    """200 students, each a corpus mutant, a correct answer or the stubs, drawn at random: the
    groups are exactly the planted mistakes (about 5 minutes on 2 cores)."""
    kinds = sorted(_entries())
    draw = random.Random(29)
    planted = {f"st{n:03d}": draw.choice(kinds) for n in range(200)}
    service = Service(tmp_path / "data", workers=2)
    service.start()
    try:
        grade_course(service, planted, workers_timeout=1800)
        found = json.loads(_cli_groups(service, "--json")[0])["groups"]
        assert_groups_match(found, planted)
        wrong = {s for s, k in planted.items() if _entries()[k][1] != set()}
        assert sum(g["count"] for g in found) == len(wrong)
        browser, _ = signed_in(service, service.admin_token)
        shown = _page_groups(_groups_page(browser, service))
        assert [(k, c) for k, c, _, _ in shown] == [(g["key"], g["count"]) for g in found]
    finally:
        service.stop()
