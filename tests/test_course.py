"""Running a course on a real `convgrade serve` (loopback, embedded queue, SQLite):
deadlines and late credit, extensions, regrades with history, gradebook exports, similarity,
and the instructor's course home in a real Chromium.

One service for the module, on a copy of the course (CONVGRADE_COURSE_DIR) whose
course.toml gives a1_cross_correlation deadlines and whose hidden suite a test edits;
the server's clock is a file (CONVGRADE_CLOCK=@FILE) the tests move.
Slow-ish: ~25 gradings of a1 (about 1 minute on 2 cores), one service start.
"""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from browser import browser, page  # noqa: F401  (the fixtures)
from conftest import SERVICE_ASSIGNMENT as A1
from service_harness import REPO, Client, Service, convgrade, error_of, import_roster
from submissions import CorpusEntry, make_submission

SIMILARITY = REPO / "tests" / "similarity" / A1
COURSE_TOML = f"""
[assignments.{A1}]
opens = 2026-09-01T00:00:00Z
due = 2026-09-15T23:59:00Z
late = [{{ until = 2026-09-16T23:59:00Z, credit = 0.8 }},
        {{ until = 2026-09-18T23:59:00Z, credit = 0.5 }}]
"""
WORKED_EXAMPLES = 'points=2, name="corr2d gives the course\'s worked examples"'


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course with deadlines, a service on it, students d1, d2, v1..v4, late and
    never (on the roster, never submits)."""
    root = tmp_path_factory.mktemp("course")
    for part in ("solutions", "exercises", "autograde_tests"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "course.toml").write_text(COURSE_TOML)
    clock = root / "clock"
    clock.write_text("2026-09-10T12:00:00Z")
    service = Service(root / "data", course_dir=root, clock=f"@{clock}", workers=1)
    service.root, service.clock = root, clock
    service.tokens = import_roster(service.data_dir, ["d1", "d2", "v1", "v2", "v3", "v4", "late", "never"], service.env)
    service.start()
    yield service
    service.stop()


def at(course, moment):
    course.clock.write_text(moment)


def cli(course, *args, timeout=300):
    process = convgrade(course.env, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def submit(course, student, notebook):
    response = Client(course.url, course.tokens[student]).submit(notebook, A1, wait=180)
    return response


@pytest.fixture(scope="module")
def graded(course, notebooks):
    """d1 and d2 submit across the windows (d2 with an extension); what each answer was."""
    seen = {}

    def send(student, moment, kind):
        at(course, moment)
        response = submit(course, student, notebooks[kind])
        seen[student, moment] = response
        return response

    for moment, kind in (("2026-09-10T12:00:00Z", "stubs"), ("2026-09-16T12:00:00Z", "reference"),
                         ("2026-09-18T12:00:00Z", "reference")):
        send("d1", moment, kind)
    code, out, err = cli(course, "extend", "d2", A1, "--due", "2026-09-19T23:59:00Z")
    assert code == 0, err
    assert "due 2026-09-19 23:59 UTC" in out and "0.8 credit until 2026-09-20 23:59 UTC" in out
    for moment in ("2026-09-19T12:00:00Z", "2026-09-20T12:00:00Z", "2026-09-22T12:00:00Z"):
        send("d2", moment, "reference")
    at(course, "2026-09-10T12:00:00Z")
    return seen


@pytest.mark.parametrize("moment, credit", [
    ("2026-09-01T00:00:00Z", 1.0), ("2026-09-15T23:59:00Z", 1.0), ("2026-09-15T23:59:01Z", 0.8),
    ("2026-09-17T01:59:00+02:00", 0.8), ("2026-09-16T23:59:01Z", 0.5), ("2026-09-18T23:59:00Z", 0.5),
    ("2026-08-31T23:59:59Z", "opens at 2026-09-01 00:00 UTC"), ("2026-09-18T23:59:01Z", "closed at 2026-09-18 23:59 UTC"),
])
def test_windows_at_their_boundaries(moment, credit):
    """course.toml parsed and applied without a server: each bound belongs to the window it ends."""
    from grader.course import deadlines

    a1 = deadlines.parse(COURSE_TOML)[A1]
    when = deadlines.parse_time(moment)
    if isinstance(credit, float):
        assert a1.credit_at(when) == credit
    else:
        with pytest.raises(deadlines.Refused, match=f"^{A1} {credit}$"):
            a1.credit_at(when)


def test_an_extension_moves_the_late_windows_with_the_due_date():
    from grader.course import deadlines

    moved = deadlines.parse(COURSE_TOML)[A1].with_due(deadlines.parse_time("2026-09-19T23:59:00Z"))
    assert moved.opens == deadlines.parse_time("2026-09-01T00:00:00Z") and moved.extended
    assert [(deadlines.iso(w.until), w.credit) for w in moved.late] == [
        ("2026-09-20T23:59:00Z", 0.8), ("2026-09-22T23:59:00Z", 0.5)]


@pytest.mark.parametrize("toml, complaint", [
    (COURSE_TOML.replace("Z\n", "\n", 1), "with an offset"),
    (COURSE_TOML.replace("credit = 0.8", "credit = 1.5"), "from 0 to 1"),
    (COURSE_TOML.replace("2026-09-16T23:59", "2026-09-14T23:59"), "increasing order"),
    (COURSE_TOML.replace("due =", "dew ="), "needs a `due`"),
])
def test_course_toml_mistakes_are_named(toml, complaint):
    from grader.course import deadlines

    with pytest.raises(deadlines.ConfigError, match=re.escape(complaint)):
        deadlines.parse(toml)


def test_the_example_course_toml_parses():
    from grader.course import deadlines

    assert A1 in deadlines.parse((REPO / "course.example.toml").read_text())


def test_an_older_database_gains_the_new_columns(tmp_path):
    """A data dir from before deadlines and regrades: its rows get credit 1 and stay readable."""
    import sqlite3

    from grader.store.db import Submission, sessions_for

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE submissions (id VARCHAR(32) PRIMARY KEY, student_id VARCHAR(200), "
                   "assignment VARCHAR(200), filename VARCHAR(400), path VARCHAR(400), status VARCHAR(16), "
                   "result_json TEXT, error TEXT, attempts INTEGER, worker VARCHAR(200), created_at DATETIME, "
                   "started_at DATETIME, finished_at DATETIME)")
        db.execute("INSERT INTO submissions VALUES ('old', 's1', 'a1', 'a.ipynb', 'submissions/old.ipynb', "
                   "'done', '{\"score\": 3.0, \"max_score\": 4.0}', NULL, 1, NULL, "
                   "'2026-01-01 00:00:00', NULL, NULL)")
    with sessions_for(f"sqlite:///{path}")() as session:
        old = session.get(Submission, "old")
        assert old.credit == 1.0 and old.regrading is False and old.submitted_at is None
        assert old.to_json(history=[])["credit"] == 1.0


def test_refused_before_opening_and_after_closing_storing_nothing(course, notebooks, graded):
    rows, files = len(course.rows()), course.stored_files()
    at(course, "2026-08-31T23:59:00Z")
    early = submit(course, "d1", notebooks["reference"])
    at(course, "2026-09-19T00:00:00Z")
    late = submit(course, "d1", notebooks["reference"])
    at(course, "2026-09-23T00:00:00Z")
    late_even_extended = submit(course, "d2", notebooks["reference"])
    at(course, "2026-09-10T12:00:00Z")
    assert early.status_code == late.status_code == late_even_extended.status_code == 403
    assert error_of(early) == f"{A1} opens at 2026-09-01 00:00 UTC"
    assert error_of(late) == f"{A1} closed at 2026-09-18 23:59 UTC"
    assert error_of(late_even_extended) == f"{A1} closed at 2026-09-22 23:59 UTC"
    assert len(course.rows()) == rows and course.stored_files() == files


@pytest.mark.parametrize("student, moment, credit", [
    ("d1", "2026-09-10T12:00:00Z", 1.0),     # on time
    ("d1", "2026-09-16T12:00:00Z", 0.8),     # first late window
    ("d1", "2026-09-18T12:00:00Z", 0.5),     # second late window
    ("d2", "2026-09-19T12:00:00Z", 1.0),     # on time only thanks to the extension
    ("d2", "2026-09-20T12:00:00Z", 0.8),     # the late windows moved with the due date
    ("d2", "2026-09-22T12:00:00Z", 0.5),
])
def test_each_window_gives_its_credit(graded, student, moment, credit):
    response = graded[student, moment]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "done" and body["submitted_at"] == moment
    assert body["credit"] == credit
    assert body["credited_score"] == pytest.approx(body["result"]["score"] * credit)


def test_assignments_api_shows_each_students_own_deadlines(course, graded):
    def a1(token):
        listed = Client(course.url, token).get("/api/v1/assignments").json()["assignments"]
        return next(a for a in listed if a["name"] == A1)

    everyone, d1, d2 = a1(None), a1(course.tokens["d1"]), a1(course.tokens["d2"])
    assert everyone["opens"] == "2026-09-01T00:00:00Z" and everyone["due"] == "2026-09-15T23:59:00Z"
    assert [w["until"] for w in everyone["late"]] == ["2026-09-16T23:59:00Z", "2026-09-18T23:59:00Z"]
    assert d1["due"] == everyone["due"] and not d1["extended"]
    assert d2["due"] == "2026-09-19T23:59:00Z" and d2["extended"]
    assert [w["until"] for w in d2["late"]] == ["2026-09-20T23:59:00Z", "2026-09-22T23:59:00Z"]
    assert [w["credit"] for w in d2["late"]] == [0.8, 0.5]
    assert d1["credit_now"] == 1.0 and d1["open_now"]
    others = [a for a in Client(course.url).get("/api/v1/assignments").json()["assignments"] if a["name"] != A1]
    assert others and all(a["due"] is None and a["credit_now"] == 1.0 for a in others)


def test_gradebook_csv_counts_the_best_credited_score(course, graded):
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(
        Client(course.url, course.admin_token).get("/api/v1/gradebook.csv").text)) if r["assignment"] == A1}
    raw = float(rows["d1"]["raw_score"])
    assert raw > 0 and float(rows["d1"]["credit"]) == 0.8        # 0.8 x full beats 1.0 x stubs and 0.5 x full
    assert float(rows["d1"]["score"]) == pytest.approx(0.8 * raw)
    assert float(rows["d2"]["credit"]) == 1.0 and float(rows["d2"]["score"]) == raw


def test_nbgrader_gradebook_export_carries_the_credit(course, graded, tmp_path, monkeypatch):
    """nbgrader's gradebook (what `convgrade grade TREE --gradebook --export` writes), fed the
    service's own result: the late penalty is raw x (1 - credit) by the collection time.
    d2's time is after the class's last window, but 0.8 credit with d2's extension (read from
    the service's database)."""
    from grader.operations import gradebook

    monkeypatch.setenv("CONVGRADE_COURSE_CONFIG", str(course.root / "course.toml"))
    monkeypatch.setenv("CONVGRADE_DATA_DIR", str(course.data_dir))
    result = graded["d1", "2026-09-16T12:00:00Z"].json()["result"]
    collected = []
    for student, stamp in (("d1", "2026-09-16 12:00:00.000000 UTC"), ("d2", "2026-09-20 12:00:00.000000 UTC")):
        folder = tmp_path / "submitted" / student / A1
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text(stamp)
        collected.append((student, A1, folder / f"{A1}.ipynb", result))
    database, export = f"sqlite:///{tmp_path / 'gradebook.db'}", tmp_path / "grades.csv"
    gradebook.write(database, collected)
    gradebook.export_csv(database, export)
    rows = {r["student_id"]: r for r in csv.DictReader(export.open())}
    for student in ("d1", "d2"):
        assert float(rows[student]["raw_score"]) == result["score"] > 0
        assert float(rows[student]["late_submission_penalty"]) == pytest.approx(0.2 * result["score"])
        assert float(rows[student]["score"]) == pytest.approx(0.8 * result["score"])
    assert rows["d1"]["duedate"].startswith("2026-09-15 23:59")


def _bodies(course, student):
    admin = Client(course.url, course.admin_token)
    listed = admin.get(f"/api/v1/submissions?assignment={A1}").json()["submissions"]
    return {s["id"]: admin.get(f"/api/v1/submissions/{s['id']}").json()
            for s in listed if s["student_id"] == student}


def test_regrade_unchanged_suite_changes_nothing_and_keeps_history(course, graded):
    before = _bodies(course, "d1")
    code, out, err = cli(course, "regrade", "--assignment", A1, "--student", "d1", "--wait", "240")
    assert code == 0, err
    assert "queued 3 submission(s)" in err and "0 score(s) changed, 3 unchanged" in err and not out.strip()
    after = _bodies(course, "d1")
    for submission_id, old in before.items():
        new = after[submission_id]
        assert new["result"]["score"] == old["result"]["score"]
        assert new["result"]["seed"] == old["result"]["seed"], "a regrade replays the recorded seed"
        assert [h["result"]["score"] for h in new["history"]] == [old["result"]["score"]]
        assert new["history"][0]["credited_score"] == old["credited_score"]


def test_regrade_with_fresh_seed_draws_new_inputs(course, graded):
    [(submission_id, old)] = [(i, b) for i, b in _bodies(course, "d2").items()
                              if b["submitted_at"] == "2026-09-19T12:00:00Z"]
    code, _, err = cli(course, "regrade", "--submission", submission_id, "--fresh-seed", "--wait", "240")
    assert code == 0 and "queued 1 submission(s)" in err, err
    new = _bodies(course, "d2")[submission_id]
    assert new["result"]["seed"] != old["result"]["seed"]
    assert new["history"][-1]["result"]["seed"] == old["result"]["seed"]


def test_regrade_after_changing_a_checks_points(course, graded):
    """The worked-examples check is worth 12 instead of 2: every submission passing it gains 10,
    (credited: 10 x credit), stubs do not; the worker reloads the edited suite by itself."""
    suite = course.root / "autograde_tests" / A1 / "test_corr2d.py"
    text = suite.read_text()
    assert WORKED_EXAMPLES in text
    before = {**_bodies(course, "d1"), **_bodies(course, "d2")}
    suite.write_text(text.replace(WORKED_EXAMPLES, WORKED_EXAMPLES.replace("points=2", "points=12")))
    try:
        code, out, err = cli(course, "regrade", "--assignment", A1, "--wait", "240")
    finally:
        suite.write_text(text)
    assert code == 0, err
    after = {**_bodies(course, "d1"), **_bodies(course, "d2")}
    printed = dict(re.findall(r"^(\w+) .* -> (\S+)$", out, re.MULTILINE))
    for submission_id, old in before.items():
        new = after[submission_id]
        passed = old["result"]["score"] > 0
        assert new["result"]["score"] == old["result"]["score"] + (10 if passed else 0)
        assert new["result"]["max_score"] == old["result"]["max_score"] + 10
        assert new["credited_score"] == pytest.approx(new["result"]["score"] * new["credit"])
        assert new["history"][-1]["result"]["score"] == old["result"]["score"]
        assert len(new["history"]) == len(old["history"]) + 1
        assert (submission_id in printed) == passed
        if passed:
            assert f"{old['result']['score']:g} -> {new['result']['score']:g}" in out


# -- similarity -------------------------------------------------------------------------------

def _similarity_tree(root):
    """submitted/<student>/a1/a1.ipynb for every entry of tests/similarity/a1."""
    for path in sorted(SIMILARITY.glob("*.py")):
        notebook = make_submission(A1, reference=False) if path.stem.startswith("starter") \
            else CorpusEntry(path).submission()
        folder = root / path.stem / A1
        folder.mkdir(parents=True)
        (folder / f"{A1}.ipynb").write_bytes(notebook)
    return root


def _run_similarity(tree, *extra):
    out = subprocess.run([sys.executable, "-m", "grader.cli", "similarity", str(tree), "--assignment", A1,
                          "--json", *extra], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["pairs"]


def test_similarity_finds_planted_copies_above_every_independent_pair(tmp_path):
    pairs = _run_similarity(_similarity_tree(tmp_path / "submitted"))
    copies = {("copy_" + s, "ind_" + s) for s in ("im2col", "shift", "unfold")}
    found = {(p["a"], p["b"]): p for p in pairs}
    assert copies <= set(found)
    lowest_copy = min(found[c]["score"] for c in copies)
    others = [p for p in pairs if (p["a"], p["b"]) not in copies]
    assert all(p["score"] < lowest_copy for p in others), (lowest_copy, others[:3])
    assert [p["score"] for p in pairs] == sorted((p["score"] for p in pairs), reverse=True)
    helper = found["copy_im2col", "ind_im2col"]["lines"]      # the reordered helper, side by side
    assert any("def to_columns" in m["a_code"] and "def im2col" in m["b_code"] for m in helper)
    assert not any("starter" in p["a"] + p["b"] for p in pairs), "starter code never flags a pair"


def test_class_common_code_never_flags_a_pair(tmp_path):
    """ind_loops and ind_strided share only the reference Conv2D and learn_edge_kernel (as
    most of the class does): with the MOSS-like discount they score nothing, without it high."""
    tree = _similarity_tree(tmp_path / "submitted")
    from grader.operations import similarity

    answers = similarity.tree_answers(tree, A1)
    template = similarity.released_code(A1)
    pair = ("ind_loops", "ind_strided")
    discounted = {(p["a"], p["b"]): p["score"] for p in similarity.compare(answers, template)}
    undiscounted = {(p["a"], p["b"]): p["score"] for p in similarity.compare(answers, template, common_fraction=1.0)}
    assert discounted.get(pair, 0.0) < 0.1 < undiscounted[pair]
    above_half = similarity.compare(answers, template, threshold=0.5)
    assert above_half and all("copy" in p["a"] + p["b"] for p in above_half)


# -- the pages in a real Chromium -------------------------------------------------------------

def _log_in(page, url, token):
    page.goto(url + "/")
    page.fill("#token", token)
    page.click("#login")
    page.wait_for_load_state()


def test_student_page_shows_own_deadline_and_credit(course, graded, page):
    _log_in(page, course.url, course.tokens["d2"])
    row = page.inner_text(f"#deadline-{A1}")
    assert "2026-09-19 23:59 UTC (your extension)" in row and "80% until 2026-09-20 23:59 UTC" in row
    assert "open, 100% credit" in row                       # the clock says 2026-09-10
    credits = [c.inner_text() for c in page.query_selector_all("#my-submissions td.credit")]
    assert sorted(credits) == ["100%", "50%", "80%"]


def _notebook_order(numbers):
    exercises = ["corr2d", "Conv2D", "learn_edge_kernel"]
    return sorted(numbers, key=lambda n: (exercises.index(n.split(".")[0]), int(n.split(".")[1])))


def test_course_home_deadlines_extensions_histogram_checks(course, graded, page):
    _log_in(page, course.url, course.admin_token)
    assert "due 2026-09-15 23:59 UTC" in page.inner_text(f"#deadlines-{A1}")
    assert "d2" in page.inner_text(f"#extensions-{A1}")
    page.select_option(f"#extend-student-{A1}", "d1")
    page.fill(f"#extend-due-{A1}", "2026-09-17T12:00:00Z")
    page.click(f"#extend-{A1}")
    page.wait_for_selector("#message")
    assert "d1 now has" in page.inner_text("#message")
    assert "2026-09-17 12:00 UTC" in page.inner_text(f"#extensions-{A1}")
    report = f"#report-{A1}"
    assert len(page.query_selector_all(f"{report} svg.hist rect")) == 10
    ticks = [re.fullmatch(r"(\d+)–(\d+)", t.text_content()) for t in page.query_selector_all(f"{report} svg .x-tick")]
    assert all(ticks) and int(ticks[0][1]) == 0, "bins of whole points, labelled by the points they hold"
    assert all(int(a[2]) + 1 == int(b[1]) for a, b in zip(ticks, ticks[1:]))
    _assert_drawn_whole(page, f"{report} svg.hist")
    assert "score (points out of" in page.text_content(f"{report} svg .x-label")
    assert page.text_content(f"{report} svg .y-label") == "students"
    numbers = [r.get_attribute("data-number") for r in page.query_selector_all(f"{report} .pass-rates tr[data-number]")]
    assert numbers == _notebook_order(numbers) and numbers.index("corr2d.2") < numbers.index("corr2d.10")
    changes = page.inner_text("#regrade-changes")               # from the points change above
    assert "d1" in changes and "d2" in changes


def _assert_drawn_whole(page, svg):
    """Every bar and label of the histogram lies inside the box the page draws it in, the box is
    not cut by CSS, and the tallest bar is as tall as the plot (not a sliver)."""
    box = page.locator(svg).bounding_box()
    assert box["height"] >= 150 and box["width"] >= 300, box     # drawn at its size, not squeezed
    for part in page.locator(f"{svg} rect, {svg} text, {svg} line").all():
        inner = part.bounding_box()
        if inner is None or inner["height"] == 0 and part.evaluate("e => e.tagName") == "rect":
            continue                                                 # an empty bin
        assert (inner["x"] >= box["x"] - 0.5 and inner["y"] >= box["y"] - 0.5
                and inner["x"] + inner["width"] <= box["x"] + box["width"] + 0.5
                and inner["y"] + inner["height"] <= box["y"] + box["height"] + 0.5), (part.text_content(), inner, box)
    clipped = page.locator(svg).evaluate(
        "e => { const r = e.getBoundingClientRect(); const p = e.parentElement.getBoundingClientRect();"
        " return r.bottom > p.bottom + 0.5 && getComputedStyle(e.parentElement).overflow !== 'visible'; }")
    assert not clipped
    heights = [b.bounding_box()["height"] for b in page.locator(f"{svg} rect").all() if b.bounding_box()]
    axis = page.locator(f"{svg} line").first.bounding_box()
    assert max(heights) >= 0.9 * 140 * box["height"] / 200, heights  # the fullest bin spans the plot
    assert axis is not None


def test_course_home_regrade_button_goes_through_the_queue(course, graded, page):
    before = {i: len(b["history"]) for i, b in _bodies(course, "d2").items()}
    _log_in(page, course.url, course.admin_token)
    page.click(f"#regrade-{A1}")
    assert A1 in page.inner_text("#question")          # regrading every submission asks first
    page.click("#confirm")
    page.wait_for_selector("#message")
    assert re.search(r"queued \d+ submission", page.inner_text("#message"))
    Client(course.url, course.admin_token).wait_done(list(before))
    after = _bodies(course, "d2")
    assert all(len(after[i]["history"]) == n + 1 for i, n in before.items())


def test_similarity_report_of_stored_submissions(course, page):
    at(course, "2026-09-10T12:00:00Z")
    for student, name in (("v1", "ind_unfold"), ("v2", "copy_unfold"), ("v3", "ind_shift"), ("v4", "ind_im2col")):
        response = submit(course, student, CorpusEntry(SIMILARITY / f"{name}.py").submission())
        assert response.status_code == 200 and response.json()["result"]["score"] > 0, response.text
    _log_in(page, course.url, course.admin_token)
    page.click(f"#similarity-{A1}")
    page.wait_for_selector("#pairs")
    shown = [(r.get_attribute("data-a"), r.get_attribute("data-b")) for r in page.query_selector_all("#pairs tr.pair")]
    among_v = [pair for pair in shown if pair[0].startswith("v") and pair[1].startswith("v")]
    assert among_v[0] == ("v1", "v2"), shown
    left, right = page.inner_text("#lines-v1-v2 pre.a"), page.inner_text("#lines-v1-v2 pre.b")
    assert "unfold(0, h" in left and "unfold(0, height" in right
    shown = page.inner_text("#pairs")
    assert ";;" not in shown, "no separator between cells reaches the report"
    for label in page.locator("#lines-v1-v2 small").all():        # "v1, lines 3-12" over 10 lines
        first, last = map(int, re.search(r"lines (\d+)-(\d+)", label.inner_text()).groups())
        code = label.locator("xpath=following-sibling::pre[1]").inner_text()
        assert last - first + 1 == len(code.rstrip("\n").split("\n")), (label.inner_text(), code)


def _with_a_second_corr2d(notebook):
    """The student pasted their corr2d answer cell twice: the grader grades the first, with a note."""
    nb = json.loads(notebook)
    index = next(i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == "corr2d")
    nb["cells"].insert(index + 1, json.loads(json.dumps(nb["cells"][index])))
    return json.dumps(nb).encode()


def test_submit_command_shows_the_notes_the_credit_and_the_deadline(course, notebooks, tmp_path, page):
    at(course, "2026-09-16T12:00:00Z")
    path = tmp_path / f"{A1}.ipynb"
    path.write_bytes(_with_a_second_corr2d(notebooks["reference"]))

    def send(*options):
        code, out, err = cli(course, "submit", str(path), "--server", course.url, "--token",
                             course.tokens["late"], "--wait", "240", *options)
        assert code == 0, err
        return out
    try:
        text, body = send(), json.loads(send("--json"))
    finally:
        at(course, "2026-09-10T12:00:00Z")
    lines = text.splitlines()
    assert lines[0] == "Read this first:" and "`corr2d` appears 2 times" in lines[1], text
    raw, out_of = body["score"], body["max_score"]
    assert f"{A1}: {raw:g} / {out_of:g} points; submitted late, 80% credit: it counts as {0.8 * raw:g}" in text
    assert ("deadline: opens 2026-09-01 00:00 UTC; due 2026-09-15 23:59 UTC; then 80% credit until 2026-09-16 23:59 UTC; then 50% credit "
            "until 2026-09-18 23:59 UTC; no submissions after 2026-09-18 23:59 UTC") in text
    exercises = [m.group(1) for m in map(re.compile(r"^  (\S+) +[\d.]+ / [\d.]+ ").match, lines) if m]
    assert exercises == ["corr2d", "Conv2D", "learn_edge_kernel"], text
    assert body["credit"] == 0.8 and body["credited_score"] == pytest.approx(0.8 * raw) and raw > 0
    assert body["deadlines"]["due"] == "2026-09-15T23:59:00Z" and "80% credit" in body["deadline_words"]
    assert any("appears 2 times" in note for note in body["notes"])
    seen = list(dict.fromkeys(t["exercise"] for t in body["tests"]))
    assert seen == ["corr2d", "Conv2D", "learn_edge_kernel"]
    _log_in(page, course.url, course.tokens["late"])              # the page shows the note's `code` as code
    page.click("#my-submissions a")                                # both submissions carry the note
    page.wait_for_selector("#notes")
    assert "corr2d" in [c.inner_text() for c in page.locator("#notes li code").all()], page.inner_text("#notes")
    assert "`" not in page.inner_text("#notes")


def test_similarity_blocks_show_the_students_code_with_its_own_line_numbers(tmp_path):
    """No seam between cells in the code shown, and each block's line range is the code it shows,
    numbered as the student's answer code (cells in order, seams left out)."""
    from grader.operations import similarity

    answers = similarity.tree_answers(_similarity_tree(tmp_path / "submitted"), A1)
    blocks = [(p["a"], p["b"], m) for p in similarity.compare(answers, similarity.released_code(A1))
              for m in p["lines"]]
    assert blocks
    for a, b, block in blocks:
        for side, student in (("a", a), ("b", b)):
            code, (first, last) = block[f"{side}_code"], block[side]
            assert ";;;" not in code, code
            own = answers[student].replace(similarity.CELL_SEAM, "\n").split("\n")
            assert code.split("\n") == own[first - 1:last], (student, first, last, code)


# -- the course home: gradebook, roster, extensions -------------------------------------------

def test_gradebook_downloaded_from_the_course_home_has_every_rostered_student(course, graded, page):
    _log_in(page, course.url, course.admin_token)
    if os.environ.get("CONVGRADE_UPDATE_SCREENSHOT"):                 # `make screenshots`
        page.set_viewport_size({"width": 1100, "height": 1300})
        page.screenshot(path=str(REPO / "docs/course-home.png"))
    tables = {}
    for link in ("#gradebook-long", "#gradebook-wide"):
        with page.expect_download() as download:
            page.click(link)                       # the signed-in browser's own session: no token typed
        tables[link] = list(csv.DictReader(open(download.value.path(), newline="")))
    roster = {"d1", "d2", "v1", "v2", "v3", "v4", "late", "never"}
    long = {(r["student_id"], r["assignment"]): r for r in tables["#gradebook-long"]}
    assert {s for s, _ in long} == roster                        # the instructor's own tries are not a student
    never = long["never", A1]
    assert never["status"] == "not submitted" and float(never["score"]) == 0 and float(never["max_score"]) > 0
    d1 = long["d1", A1]
    assert d1["status"] == "graded" and float(d1["score"]) == pytest.approx(float(d1["raw_score"]) * float(d1["credit"]))
    wide = {r["student_id"]: r for r in tables["#gradebook-wide"]}
    assert set(wide) == roster and float(wide["never"][A1]) == 0 and float(wide["never"]["total"]) == 0
    assert float(wide["d1"][A1]) == pytest.approx(float(long["d1", A1]["score"]))
    assert float(wide["d1"]["max_total"]) == pytest.approx(sum(float(r["max_score"]) for (s, _), r in long.items()
                                                              if s == "d1"))
    # a signed-in student gets no gradebook
    page.click("nav button")
    _log_in(page, course.url, course.tokens["d1"])
    response = page.request.get(course.url + "/instructor/gradebook.csv")
    assert response.status == 403


def test_a_changed_suite_is_named_beside_the_gradebook(course, graded, page, tmp_path):
    """Results graded out of other points than the released notebook states: the course home
    and the API's export say so; released again (here: the suite reverted), they stop."""
    suite = course.root / "autograde_tests" / A1 / "test_corr2d.py"
    text = suite.read_text()
    admin = Client(course.url, course.admin_token)
    suite.write_text(text.replace(WORKED_EXAMPLES, WORKED_EXAMPLES.replace("points=2", "points=12")))
    try:
        code, _, err = cli(course, "regrade", "--assignment", A1, "--student", "d1", "--wait", "240")
        assert code == 0, err
        warning = admin.get("/api/v1/gradebook.csv").headers.get("X-Convgrade-Warning", "")
        assert A1 in warning and "corr2d 14 -> 24" in warning, warning
        _log_in(page, course.url, course.admin_token)
        assert "changed after the notebooks were released" in page.inner_text(".suite-warning")
    finally:
        suite.write_text(text)
    code, _, err = cli(course, "regrade", "--assignment", A1, "--student", "d1", "--wait", "240")
    assert code == 0, err
    assert "X-Convgrade-Warning" not in admin.get("/api/v1/gradebook.csv").headers


def test_roster_shows_who_has_not_submitted_and_reissues_a_token(course, graded, page):
    old_token = course.tokens["never"]
    _log_in(page, course.url, course.admin_token)
    row = page.locator('#roster tr[data-student="never"]')
    assert row.locator(f'td[data-assignment="{A1}"]').inner_text() == "not submitted"
    graded_cell = page.locator(f'#roster tr[data-student="d1"] td[data-assignment="{A1}"]').inner_text()
    assert re.fullmatch(r"[\d.]+ / [\d.]+", graded_cell), graded_cell
    row.locator("button.reissue").click()
    assert "never" in page.inner_text("#question")     # replacing a token asks first
    page.click("#confirm")
    page.wait_for_selector("#new-token")
    new_token = page.inner_text("#new-token code").strip()
    assert new_token and new_token != old_token and new_token not in page.url
    assert Client(course.url, new_token).get("/api/v1/submissions").status_code == 200
    assert Client(course.url, old_token).get("/api/v1/submissions").status_code == 401
    course.tokens["never"] = new_token


def test_extensions_only_for_the_course_students_and_removable(course, graded, page):
    code, _, err = cli(course, "extend", "zed", A1, "--due", "2026-09-20T23:59:00Z")
    assert code == 2 and "zed is not on the roster" in err, err
    _log_in(page, course.url, course.admin_token)
    options = page.locator(f"#extend-student-{A1} option").all_inner_texts()
    assert "zed" not in " ".join(options) and any(o.startswith("never") for o in options)
    # a hand-made form post for someone unknown is refused too
    csrf = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    response = page.request.post(course.url + "/instructor/extensions", form={
        "student": "zed", "assignment": A1, "due": "2026-09-20T23:59:00Z", "csrf_token": csrf})
    assert "zed is not on the roster" in response.text()
    page.select_option(f"#extend-student-{A1}", "v1")
    page.fill(f"#extend-due-{A1}", "2026-09-25T12:00:00Z")
    page.click(f"#extend-{A1}")
    page.wait_for_selector("#message")
    assert "v1" in page.inner_text(f"#extensions-{A1}")
    page.locator(f'#extensions-{A1} tr[data-student="v1"] button.remove-extension').click()
    page.wait_for_selector("#message")
    assert "extension of" in page.inner_text("#message") and "removed" in page.inner_text("#message")
    assert page.locator(f'#extensions-{A1} tr[data-student="v1"]').count() == 0
    code, _, err = cli(course, "extend", "v1", A1, "--remove")
    assert code == 2 and "has no extension" in err


# -- text that reads well: whole-point bins, a course home as wide as the screen, notes ---------

def test_histogram_bins_are_whole_points_wide_and_the_last_is_closed():
    from grader.doors.service.reports import _histogram

    bins = _histogram([0, 2.5, 3, 28.5, 29, 29], 29)
    assert [(b["low"], b["high"]) for b in bins] == [(i, i + 2) for i in range(0, 27, 3)] + [(27, 29)]
    assert [b["count"] for b in bins] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    assert all(float(b["low"]).is_integer() and float(b["high"]).is_integer() for b in bins)


def test_course_home_uses_the_width_it_has(tmp_path, page):
    """Five assignments and full names on a 1400 px screen: no name wraps; on a phone the
    roster scrolls sideways instead of wrapping."""
    service = Service(tmp_path / "data", workers=1)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\nmfrc,Maria Fernanda Rodriguez Castellanos\nbo,Bo Li\n")
    process = convgrade(service.env, "students", "import", str(roster), stdout=subprocess.PIPE, text=True)
    assert process.wait(timeout=60) == 0
    service.start()
    try:
        page.set_viewport_size({"width": 1400, "height": 900})
        _log_in(page, service.url, service.admin_token)
        assert len(page.query_selector_all("#roster th")) >= 2 + 5 + 1      # five assignments
        one_line = _text_height(page.locator('#roster tr[data-student="bo"] td').first)
        for cell in page.locator("#roster td, #roster th").all():
            assert _text_height(cell) < 1.5 * one_line, cell.inner_text()
        page.set_viewport_size({"width": 400, "height": 900})
        assert _text_height(page.locator('#roster tr[data-student="mfrc"] td').nth(1)) < 1.5 * one_line
        assert page.locator("#roster").evaluate("t => t.parentElement.scrollWidth > t.parentElement.clientWidth")
    finally:
        service.stop()


def _text_height(cell):
    """The height of the text a cell holds (one line, or as many as it wraps to)."""
    return cell.evaluate("e => { const r = document.createRange(); r.selectNodeContents(e);"
                         " return r.getBoundingClientRect().height; }")


def test_notes_show_code_as_code_tensors_on_their_lines_and_stay_text(tmp_path, page):
    """The student's page renders a note as the Lab panel does, escaped first (autoescaping on)."""
    from flask import render_template_string

    from grader.doors.service.app import create_app

    app = create_app({"data_dir": str(tmp_path / "data"), "admin_token": "t" * 32})
    note = "`x.sum()` gave tensor([[1., 2.],\\n        [3., 4.]]) <script>alert(1)</script> & `<b>`"
    with app.test_request_context():
        html = render_template_string("<ul><li id=note>{{ note | rich_text }}</li></ul>", note=note)
    page.set_content(html)
    assert [c.inner_text() for c in page.locator("#note code").all()] == ["x.sum()", "<b>"]
    shown = page.inner_text("#note")
    assert shown.split("\n") == ["x.sum() gave tensor([[1., 2.],", "[3., 4.]]) <script>alert(1)</script> & <b>"]
    assert page.locator("#note script, #note b").count() == 0
