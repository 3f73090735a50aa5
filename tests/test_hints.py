"""Hints (issue 29, "the loop closes"): a mistake group's comment made a permanent hint of its check,
written to the suite's hint table (autograde_tests/<assignment>/hints.toml) after the instructor has
seen the diff, and shown with the check's failure in every later grading: the result, the Lab panel,
the student page and `convgrade submit`; and the comment on a group reaching a later submission made
from the Lab panel.

The table's format and which failure gets which hint are tested on files; the rest on a copy of the
course (CONVGRADE_COURSE_DIR), since a hint is written into it: a real daemon for an edited table,
and one real `convgrade serve` with a real JupyterLab in Chromium (tests/test_lab.py's) for the
module's gradings (a1 answers from tests/corpus/: a kernel flipped, an output one row short, the
last row left at zero). About 4 minutes on 2 shared cores; CONVGRADE_UPDATE_SCREENSHOT=1 rewrites
docs/group-comment-in-lab.png.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from urllib.parse import unquote_plus

import pytest

from conftest import SERVICE_ASSIGNMENT as A1
from service_harness import REPO, Client, Service, form_token, import_roster, signed_in
from submissions import CorpusEntry
from test_daemon import convgrade as run_convgrade, daemon_env, short_runtime_dir, status
from browser import browser  # noqa: F401 (the module-scoped chromium fixture)
from test_lab import (BUILT, CHROMIUM, GRADING_MS, current_build, lab, page,  # noqa: F401 (fixtures)
                      submit_a_flipped_kernel, sync_api)
from test_pictures import comment_on_the_group_of, submit_in_terminal

CORPUS = REPO / "tests/corpus/a1_cross_correlation"
FLIPPED = CorpusEntry(CORPUS / "corr2d_flipped_kernel.py")
OFF_BY_ONE = CorpusEntry(CORPUS / "corr2d_off_by_one.py")
SKIPS_EDGE = CorpusEntry(CORPUS / "corr2d_skips_last_row_column.py")


def copy_of_the_course(root):
    for part in ("autograde_tests", "solutions", "exercises"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def first_diagnosed(result):
    return next(t for t in result["tests"] if t["status"] != "passed" and t.get("diagnosis"))


# -- the table, and which failure gets which hint -----------------------------------------------

def test_a_hint_for_a_pair_that_has_one_replaces_it_in_place_and_the_diff_says_only_that():
    from grader.course import hints

    first = hints.with_hint("", "test_a", "m1", 'say "x"\nthen \\ é', A1)
    second = hints.with_hint(first, "test_b", None, "b", A1)
    third = hints.with_hint(second, "test_a", "m1", "new words", A1)
    assert hints.parse(third) == [{"check": "test_a", "mistake": "m1", "text": "new words"},
                                  {"check": "test_b", "mistake": None, "text": "b"}]
    assert hints.parse(first)[0]["text"] == 'say "x"\nthen \\ é'
    changed = [line for line in hints.diff(A1, second, third).splitlines() if line[:1] in "+-"]
    assert changed == [f"--- a/autograde_tests/{A1}/hints.toml", f"+++ b/autograde_tests/{A1}/hints.toml",
                       '-text = "say \\"x\\"\\nthen \\\\ é"', '+text = "new words"']
    with pytest.raises(hints.HintTableError, match="`check` and `text`"):
        hints.parse('[[hint]]\ncheck = "test_a"\n')


def test_a_failure_gets_the_hint_of_its_mistake_else_its_checks_general_one(tmp_path, monkeypatch):
    from grader.course import hints
    from grader.engine import hints as engine_hints

    table = tmp_path / "hints.toml"
    monkeypatch.setattr(hints, "path", lambda assignment: table)
    mistakes = {m.id: m for m in engine_hints.catalogue(A1)}
    text = hints.with_hint("", "test_x", "corr2d_flipped_kernel", "flipped", A1)
    text = hints.with_hint(text, "test_x", None, "any failure of x", A1)
    text = hints.with_hint(text, "test_y", "corr2d_transposed", "transposed", A1)
    table.write_text(text)

    def failed(check, mistake=None, status="failed"):
        diagnosis = mistakes[mistake].sentence() if mistake else None
        return {"id": check, "status": status, "score": 0.0, **({"diagnosis": diagnosis} if diagnosis else {})}
    tests = [failed("test_x", "corr2d_flipped_kernel"), failed("test_x", "corr2d_one_short"), failed("test_x"),
             failed("test_x", status="passed"), failed("test_y", "corr2d_flipped_kernel"), failed("test_z")]
    engine_hints.attach(A1, tests)
    assert [t.get("hint") for t in tests] == ["flipped", "any failure of x", "any failure of x", None, None, None]
    assert all(t["score"] == 0.0 for t in tests)


def test_a_hint_table_that_does_not_parse_leaves_the_grading_without_hints(tmp_path, monkeypatch, capsys):
    from grader.course import hints
    from grader.engine import hints as engine_hints

    table = tmp_path / "hints.toml"
    monkeypatch.setattr(hints, "path", lambda assignment: table)
    table.write_text('[[hint]]\ncheck = "test_x"\ntext = "unclosed\n')
    tests = [{"id": "test_x", "status": "failed", "score": 0.0}]
    assert engine_hints.attach(A1, tests) == [{"id": "test_x", "status": "failed", "score": 0.0}]
    said = capsys.readouterr().err
    assert "grading without hints" in said and "not valid TOML" in said and "hints.toml" in said


def test_an_edited_hint_table_is_graded_by_a_fresh_daemon_and_changes_no_score(tmp_path):
    course = copy_of_the_course(tmp_path / "course")
    notebook = tmp_path / f"{A1}.ipynb"
    notebook.write_bytes(FLIPPED.submission())
    runtime = short_runtime_dir()
    env = daemon_env(runtime, CONVGRADE_COURSE_DIR=str(course))
    try:
        before = run_convgrade(env, "grade", notebook, "--json", "--seed", "7")
        assert before.returncode == 0, before.stderr
        old = status(env)["pid"]
        check = first_diagnosed(json.loads(before.stdout))
        assert "hint" not in check
        table = course / "autograde_tests" / A1 / "hints.toml"
        # as an instructor edits it by hand
        table.write_text(f'[[hint]]\ncheck = "{check["id"]}"\nmistake = "corr2d_flipped_kernel"\n'
                         'text = "Cross-correlation slides K as it is."\n')
        after = run_convgrade(env, "grade", notebook, "--json", "--seed", "7")
        assert after.returncode == 0, after.stderr
        assert status(env)["pid"] != old, "the edited table is graded by a fresh daemon"
        hinted, plain = json.loads(after.stdout), json.loads(before.stdout)
        assert [t.get("hint") for t in hinted["tests"] if t.get("hint")] == ["Cross-correlation slides K as it is."]
        assert first_diagnosed(hinted)["hint"] == "Cross-correlation slides K as it is."
        assert [(t["id"], t["score"], t["status"]) for t in hinted["tests"]] == \
            [(t["id"], t["score"], t["status"]) for t in plain["tests"]]
        assert hinted["score"] == plain["score"] < plain["max_score"]
    finally:
        run_convgrade(env, "daemon", "stop")
        shutil.rmtree(runtime, ignore_errors=True)


def test_the_gradescope_zip_carries_the_hint_table(tmp_path):
    import zipfile

    from grader.doors.gradescope.build import build

    archive, _, _ = build(tmp_path / "autograder.zip", A1)
    with zipfile.ZipFile(archive) as zf:
        shipped = zf.read(f"autograde_tests/{A1}/hints.toml").decode()
    assert shipped == (REPO / "autograde_tests" / A1 / "hints.toml").read_text()


# -- through the service, the terminal and the Lab panel ---------------------------------------------

COMMENT = "You computed the textbook convolution: cross-correlation slides K as it is (section 2)."
SHORT_COMMENT = "The output has H - h + 1 rows: range(H - h + 1), not range(H - h)."
EDGE_COMMENT = "Loop over every output cell: the last row and column too."


@pytest.fixture(scope="module")
def grader(tmp_path_factory):
    """A service on a copy of the course (the hint table is written into it); test_lab's JupyterLab
    submits as alice."""
    course = copy_of_the_course(tmp_path_factory.mktemp("hints-course"))
    running = Service(tmp_path_factory.mktemp("hints-grader"), course_dir=course)
    running.course = course
    running.tokens = import_roster(running.data_dir, ["alice", "bob", "carol", "dave", "erin"], running.env)
    running.start()
    yield running
    running.stop()


def table(grader):
    return grader.course / "autograde_tests" / A1 / "hints.toml"


def table_text(grader):
    return table(grader).read_text() if table(grader).is_file() else ""


@pytest.fixture(scope="module")
def commented(grader, tmp_path_factory):
    """bob flips the kernel, carol's output is one row short, dave leaves the last row at zero; the
    instructor comments on each one's mistake group."""
    printed = submit_in_terminal(grader, {"bob": FLIPPED, "carol": OFF_BY_ONE, "dave": SKIPS_EDGE}, tmp_path_factory)
    for student, comment in (("bob", COMMENT), ("carol", SHORT_COMMENT), ("dave", EDGE_COMMENT)):
        comment_on_the_group_of(grader, student, comment)
    return printed


def group_of(grader, student):
    listed = subprocess.run([sys.executable, "-m", "grader.cli", "groups", A1, "--json"], env=grader.env, cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    return next(g for g in json.loads(listed.stdout)["groups"] if student in g["students"])


def served(grader, student, newest=True):
    rows = sorted(grader.rows(f"student_id = '{student}'"), key=lambda r: r["created_at"])
    return Client(grader.url, grader.tokens[student]).get(f"/api/v1/submissions/{rows[-1 if newest else 0]['id']}").json()


def hint_pages(grader, student):
    """The instructor presses "Make this a hint for next term" on `student`'s group: {page, preview,
    old (the table before), key, a refused post without the CSRF token, one with a changed base}."""
    browser, _ = signed_in(grader, grader.admin_token)
    page = browser.get(f"{grader.url}/instructor/groups/{A1}", timeout=60).text
    key = group_of(grader, student)["key"]
    form = {"assignment": A1, "key": key}
    old = table_text(grader)
    no_csrf = browser.post(f"{grader.url}/instructor/groups/hint", data=form, allow_redirects=False, timeout=60)
    preview = browser.post(f"{grader.url}/instructor/groups/hint", timeout=60,
                           data={**form, "csrf_token": form_token(page)})
    assert preview.status_code == 200, preview.text
    base = re.search(r'name="base" value="(\w+)"', preview.text).group(1)
    stale = browser.post(f"{grader.url}/instructor/groups/hint", allow_redirects=False, timeout=60,
                         data={**form, "confirmed": "1", "base": "0" * 64, "csrf_token": form_token(preview.text)})
    unchanged = table_text(grader)
    written = browser.post(f"{grader.url}/instructor/groups/hint", allow_redirects=False, timeout=60,
                           data={**form, "confirmed": "1", "base": base, "csrf_token": form_token(preview.text)})
    return {"page": page, "preview": preview.text, "old": old, "key": key, "no_csrf": no_csrf, "stale": stale,
            "unchanged": unchanged, "written": written}


@pytest.fixture(scope="module")
def carol_hinted(grader, commented, tmp_path_factory):
    """carol's comment made a hint on the groups page; then erin makes carol's mistake."""
    pages = hint_pages(grader, "carol")
    pages["erin"] = submit_in_terminal(grader, {"erin": OFF_BY_ONE}, tmp_path_factory)["erin"]
    return pages


def test_the_instructor_reads_the_diff_of_the_hint_table_then_confirms_it(grader, carol_hinted):
    from grader.course import hints

    pages, group = carol_hinted, group_of(grader, "carol")
    assert "Make this a hint for next term" in pages["page"]
    check = group["checks"][0]
    new = hints.with_hint(pages["old"], check["id"], "corr2d_one_short", SHORT_COMMENT, A1)
    shown = unescape(re.search(r'<pre id="diff">(.*?)</pre>', pages["preview"], re.S).group(1))
    assert shown == hints.diff(A1, pages["old"], new) and f'+text = "{SHORT_COMMENT}"' in shown
    assert pages["no_csrf"].status_code == 403
    assert pages["stale"].status_code == 303
    assert "changed since the diff was shown" in unquote_plus(pages["stale"].headers["Location"])
    assert pages["unchanged"] == pages["old"], "a stale confirmation writes nothing"
    assert pages["written"].status_code == 303, pages["written"].text
    assert table_text(grader) == new


def test_only_the_instructor_makes_a_hint(grader, commented):
    student, _ = signed_in(grader, grader.tokens["bob"])
    token = form_token(student.get(grader.url + "/", timeout=60).text)
    forged = student.post(f"{grader.url}/instructor/groups/hint", timeout=60, allow_redirects=False, data={
        "assignment": A1, "key": group_of(grader, "bob")["key"], "confirmed": "1", "base": "x", "csrf_token": token})
    assert forged.status_code == 403


def test_a_later_grading_shows_the_hint_in_the_result_the_page_and_the_terminal_at_the_same_score(
        grader, carol_hinted, commented):
    erin, carol = served(grader, "erin"), served(grader, "carol")
    hinted = [t for t in erin["result"]["tests"] if t.get("hint")]
    assert [t["hint"] for t in hinted] == [SHORT_COMMENT]
    assert "comment" not in hinted[0], "the comment made a hint is said once"
    assert not any(t.get("hint") for t in carol["result"]["tests"]), "a hint is given at grading, not read back"
    assert [(t["id"], t["score"]) for t in erin["result"]["tests"]] == \
        [(t["id"], t["score"]) for t in carol["result"]["tests"]]
    assert f"hint: {SHORT_COMMENT}" in carol_hinted["erin"]
    assert "hint:" not in commented["carol"]
    browser, _ = signed_in(grader, grader.tokens["erin"])
    html = browser.get(f"{grader.url}/submissions/{erin['id']}", timeout=60).text
    assert re.search(r'<div class="hint"><b>Hint:</b>\s*' + re.escape(SHORT_COMMENT), unescape(html)), html


def test_convgrade_hints_prints_the_diff_and_writes_only_when_told(grader, commented):
    key = group_of(grader, "dave")["key"]
    before = table_text(grader)
    command = [sys.executable, "-m", "grader.cli", "hints", A1, "--from-group", key[:10]]
    asked = subprocess.run(command, input="n\n", env=grader.env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert asked.returncode == 1 and "nothing written" in asked.stderr
    assert f'+text = "{EDGE_COMMENT}"' in asked.stdout and asked.stdout.startswith("--- a/autograde_tests/")
    assert "[y/N]" in asked.stderr and table_text(grader) == before
    told = subprocess.run(command + ["--yes"], env=grader.env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert told.returncode == 0, told.stderr
    assert told.stdout == asked.stdout and f'text = "{EDGE_COMMENT}"' in table_text(grader)
    again = subprocess.run(command + ["--yes"], env=grader.env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "already has this hint" in again.stderr and again.stdout == ""


@pytest.mark.skipif(not os.path.exists(CHROMIUM) or not BUILT.exists(), reason="no chromium or no built lab extension")
def test_a_comment_and_then_its_hint_reach_later_submissions_from_the_lab_panel(current_build, page, grader,  # noqa: F811
                                                                               commented):
    """bob's group was commented before alice submitted the same mistake from JupyterLab: the panel
    shows the comment. The comment then becomes a hint, and her next submission shows it as the hint."""
    panel = page.locator("#convgrade-panel")
    submit_a_flipped_kernel(page)
    check = panel.locator(".convgrade-check", has=page.locator(".convgrade-comment"))
    sync_api.expect(check.locator(".convgrade-comment")).to_have_text(f"Your instructor's note: {COMMENT}")
    name = first_diagnosed(served(grader, "alice")["result"])["name"]
    assert check.locator(".convgrade-check-name").inner_text().startswith(name)
    assert panel.locator(".convgrade-hint").count() == 0
    if os.environ.get("CONVGRADE_UPDATE_SCREENSHOT"):
        check.scroll_into_view_if_needed()
        page.screenshot(path=str(REPO / "docs/group-comment-in-lab.png"))
    assert hint_pages(grader, "bob")["written"].status_code == 303
    submit_a_flipped_kernel(page)
    sync_api.expect(panel.locator(".convgrade-hint")).to_have_text(f"Hint: {COMMENT}", timeout=GRADING_MS)
    assert panel.locator(".convgrade-comment").count() == 0, "the comment made a hint is said once"
    assert first_diagnosed(served(grader, "alice")["result"])["hint"] == COMMENT
