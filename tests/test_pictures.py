"""What a student reads next to a failed check, wherever they read it: the Lab panel and the
student page in a real Chromium, and `convgrade submit` in a terminal, all against one real
`convgrade serve` that grades wrong corr2d answers on the course's worked example: the
diagnosis, the instructor's comment on the mistake group, and the pictures of expected
against got.

The values drawn are read back (each heatmap cell's value and whether it is marked as
differing) and compared with the worked example computed here with torch's own convolution,
not with the grader's result. One grader and one JupyterLab for the module (the JupyterLab is
tests/test_lab.py's, with this module's grader).
"""

import json
import re
import subprocess
import sys
from html import unescape

import pytest
import torch
import torch.nn.functional as F

from conftest import SERVICE_ASSIGNMENT
from service_harness import REPO, Service, convgrade, form_token, import_roster, signed_in
from submissions import CorpusEntry
from browser import browser  # noqa: F401 (the module-scoped chromium fixture)
from test_lab import (NOTEBOOK, lab, page, submit_a_flipped_kernel,  # noqa: F401 (fixtures)
                      sync_api, pytestmark)  # noqa: F401 (skipped where test_lab is)

CORPUS = REPO / "tests/corpus/a1_cross_correlation"
FLIPPED = CorpusEntry(CORPUS / "corr2d_flipped_kernel.py")               # every cell wrong
SKIPS_EDGE = CorpusEntry(CORPUS / "corr2d_skips_last_row_column.py")     # some cells wrong
OFF_BY_ONE = CorpusEntry(CORPUS / "corr2d_off_by_one.py")                # the wrong shape
WORKED = "corr2d.1"    # "corr2d gives the course's worked examples": X = arange(9), K = arange(4)

X = torch.arange(9.0).reshape(1, 1, 3, 3)
K = torch.arange(4.0).reshape(1, 1, 2, 2)
EXPECTED = F.conv2d(X, K)[0, 0].tolist()                         # cross-correlation
FLIPPED_GOT = F.conv2d(X, torch.flip(K, (2, 3)))[0, 0].tolist()  # the textbook convolution
COMMENT = "You computed the textbook convolution: cross-correlation slides K as it is. Come to office hours <b>Tuesday</b>."
STUDENTS = ["alice", "bob", "carol", "dave", "erin"]


@pytest.fixture(scope="module")
def grader(tmp_path_factory):
    """The module's grader: alice submits from JupyterLab, the others from the terminal."""
    running = Service(tmp_path_factory.mktemp("pictures-grader"))
    running.tokens = import_roster(running.data_dir, STUDENTS, running.env)
    running.start()
    yield running
    running.stop()


def submit_in_terminal(grader, submitted, tmp_path_factory):
    """`convgrade submit` as each student types it, at once, output through a pipe: {student: stdout}."""
    running = {}
    for student, entry in submitted.items():
        notebook = tmp_path_factory.mktemp(student) / NOTEBOOK
        notebook.write_bytes(entry.submission())
        running[student] = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "submit", str(notebook), "--server", grader.url,
             "--token", grader.tokens[student], "--wait", "400"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed = {}
    for student, process in running.items():
        stdout, stderr = process.communicate(timeout=460)
        assert process.returncode == 0, stderr
        printed[student] = stdout
    return printed


@pytest.fixture(scope="module")
def terminal(grader, tmp_path_factory):
    """bob's answer leaves the last row and column at 0; carol's output is one row and column
    short; dave flips the kernel and then the instructor comments on his mistake group; erin
    flips it after that."""
    printed = submit_in_terminal(grader, {"bob": SKIPS_EDGE, "carol": OFF_BY_ONE, "dave": FLIPPED}, tmp_path_factory)
    comment_on_the_group_of(grader, "dave", COMMENT)
    return printed | submit_in_terminal(grader, {"erin": FLIPPED}, tmp_path_factory)


def comment_on_the_group_of(grader, student, comment):
    """The instructor writes `comment` on the course home for the mistake group `student` is in."""
    listed = convgrade(grader.env, "groups", SERVICE_ASSIGNMENT, "--json", stdout=subprocess.PIPE, text=True)
    out, _ = listed.communicate(timeout=120)
    [key] = [g["key"] for g in json.loads(out)["groups"] if student in g["students"]]
    browser, _ = signed_in(grader, grader.admin_token)
    page = browser.get(f"{grader.url}/instructor/groups/{SERVICE_ASSIGNMENT}", timeout=60).text
    saved = browser.post(f"{grader.url}/instructor/groups/comment", allow_redirects=False, timeout=60,
                         data={"assignment": SERVICE_ASSIGNMENT, "key": key, "comment": comment,
                               "csrf_token": form_token(page)})
    assert saved.status_code == 303, saved.text


def served_check(grader, student, number=WORKED):
    """The check as the grader serves it to the student (the diagnosis to expect comes from here)."""
    import requests
    submission_id = grader.rows(f"student_id = '{student}'")[0]["id"]
    body = requests.get(f"{grader.url}/api/v1/submissions/{submission_id}", timeout=60,
                        headers={"Authorization": f"Bearer {grader.tokens[student]}"}).json()
    return next(t for t in body["result"]["tests"] if t["number"] == number)


def skips_edge_got():
    got = [row[:] for row in EXPECTED]
    for i in range(2):
        for j in range(2):
            if i == 1 or j == 1:
                got[i][j] = 0.0
    return got


def differing(expected, got):
    return {(i, j) for i, row in enumerate(expected) for j, e in enumerate(row) if e != got[i][j]}


# -- reading a drawing back ------------------------------------------------------------------

def drawn(cells):
    """{(row, col): (value, marked, hover text)} of one heatmap's cells."""
    return {(int(c.get_attribute("data-row")), int(c.get_attribute("data-col"))):
            (float(c.get_attribute("data-value")), "differs" in c.get_attribute("class"),
             c.locator("title").text_content())
            for c in cells}


def grid_of(cells):
    assert cells, "no heatmap is drawn"
    rows = 1 + max(i for i, _ in cells)
    cols = 1 + max(j for _, j in cells)
    return [[cells[(i, j)][0] for j in range(cols)] for i in range(rows)]


def marked(cells):
    return {where for where, (_, is_marked, _) in cells.items() if is_marked}


# -- the Lab panel ---------------------------------------------------------------------------

def test_the_lab_panel_draws_expected_got_and_difference_with_the_wrong_cells_marked(page, grader, terminal):
    submit_a_flipped_kernel(page)
    panel = page.locator("#convgrade-panel")
    picture = panel.locator(f'.convgrade-picture[data-check="{WORKED}"]')
    maps = {name: drawn(picture.locator(f'figure[data-map="{name}"] g.convgrade-cell').all())
            for name in ("expected", "got", "difference")}
    assert grid_of(maps["expected"]) == EXPECTED and grid_of(maps["got"]) == FLIPPED_GOT
    assert grid_of(maps["difference"]) == [[g - e for e, g in zip(er, gr)] for er, gr in zip(EXPECTED, FLIPPED_GOT)]
    for cells in maps.values():
        assert marked(cells) == differing(EXPECTED, FLIPPED_GOT)
    # values on hover: each cell's title names the map, the cell and the value
    assert maps["got"][(0, 1)][2] == f"got [0, 1] = {FLIPPED_GOT[0][1]:g} (differs)"
    assert "cells differ" in picture.locator(".convgrade-picture-sentence").inner_text()
    # the picture sits under the check's message, and the score is still in view above it
    check = panel.locator(".convgrade-check", has=page.locator(f'.convgrade-picture[data-check="{WORKED}"]'))
    assert check.locator(".convgrade-check-output").count() == 1
    # the diagnosis right under the message, then the note the instructor wrote for dave's group
    diagnosis = served_check(grader, "alice").get("diagnosis")
    assert diagnosis, "the flipped kernel is a known mistake"
    shown = check.evaluate("li => [...li.children].map(c => [c.className, c.textContent])")
    assert [kind for kind, _ in shown] == ["convgrade-check-name", "convgrade-check-output", "convgrade-diagnosis",
                                          "convgrade-comment", "convgrade-picture"]
    assert shown[2][1] == f"Diagnosis: {diagnosis}"
    assert shown[3][1] == f"Your instructor's note: {COMMENT}", "set as text, never as HTML"
    panel.evaluate("e => { e.scrollTop = 0; }")
    score, frame = panel.locator(".convgrade-score").bounding_box(), panel.bounding_box()
    assert frame["y"] <= score["y"] and score["y"] + score["height"] <= frame["y"] + frame["height"]
    heatmaps = [picture.locator(f'figure[data-map="{n}"]').bounding_box() for n in ("expected", "got", "difference")]
    assert len({round(box["y"]) for box in heatmaps}) == 1, "the three heatmaps stand side by side"
    assert all(box["x"] + box["width"] <= frame["x"] + frame["width"] + 1 for box in heatmaps), "inside the panel"


# -- the student page ------------------------------------------------------------------------

def open_submission(browser, grader, student):  # noqa: F811
    context = browser.new_context()
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page = context.new_page()
    page.goto(grader.url + "/")
    page.fill("#token", grader.tokens[student])
    page.click("#login")
    submission_id = grader.rows(f"student_id = '{student}'")[0]["id"]
    page.goto(f"{grader.url}/submissions/{submission_id}")
    return context, page


def test_the_student_page_draws_the_maps_and_marks_the_cells_that_differ(browser, grader, terminal):  # noqa: F811
    context, page = open_submission(browser, grader, "bob")
    try:
        picture = page.locator(f'.picture[data-check="{WORKED}"]')
        maps = {name: drawn(picture.locator(f'figure[data-map="{name}"] g.cell').all())
                for name in ("expected", "got", "difference")}
        got = skips_edge_got()
        assert grid_of(maps["expected"]) == EXPECTED and grid_of(maps["got"]) == got
        for cells in maps.values():
            assert marked(cells) == differing(EXPECTED, got) == {(0, 1), (1, 0), (1, 1)}
        assert maps["expected"][(1, 1)][2] == f"expected [1, 1] = {EXPECTED[1][1]:g} (differs)"
        assert maps["expected"][(0, 0)][2] == f"expected [0, 0] = {EXPECTED[0][0]:g}"
        # the picture is in the check's own row, under its message
        row = page.locator("#tests tr.check", has=picture)
        assert "corr2d returned wrong values" in row.inner_text()
    finally:
        context.close()


def test_the_student_page_draws_both_shapes_when_they_differ(browser, grader, terminal):  # noqa: F811
    context, page = open_submission(browser, grader, "carol")
    try:
        picture = page.locator(f'.picture[data-check="{WORKED}"]')
        expected = drawn(picture.locator('figure[data-map="expected"] g.cell').all())
        got = drawn(picture.locator('figure[data-map="got"] g.cell').all())
        assert grid_of(expected) == EXPECTED and grid_of(got) == [[EXPECTED[0][0]]]
        assert picture.locator('figure[data-map="difference"]').count() == 0
        assert "The shapes differ: expected 2 x 2, got 1 x 1" in picture.inner_text()
    finally:
        context.close()


def test_the_student_page_shows_the_diagnosis_under_the_message_and_the_instructors_note(browser, grader, terminal):  # noqa: F811
    """dave was graded before the instructor wrote the comment: his page shows it all the same."""
    diagnosis = served_check(grader, "dave")["diagnosis"]
    context, page = open_submission(browser, grader, "dave")
    try:
        row = page.locator("#tests tr.check", has=page.locator(f'.picture[data-check="{WORKED}"]'))
        assert unescape(row.locator(".diagnosis").inner_text()) == f"Diagnosis: {diagnosis}"
        assert row.locator(".comment").inner_text() == f"Your instructor's note: {COMMENT}"
        assert row.locator(".comment b").count() == 1, "the comment is text: its <b> is not markup"
        feedback = row.locator("td").nth(2).evaluate("td => [...td.children].map(c => c.className)")
        assert feedback[:3] == ["diagnosis", "comment", "picture"], feedback
    finally:
        context.close()


# -- the terminal ----------------------------------------------------------------------------

def printed_grids(stdout, number):
    """The expected and got grids printed under the failed check `number`: {(i, j): (value, marked)}."""
    block = stdout.split(f"FAIL {number}:", 1)[1]
    lines = block.splitlines()
    start = next((k for k, line in enumerate(lines) if re.match(r"\s*expected:\s+\|\s+got:", line)), None)
    assert start is not None, f"no grid is printed under {number}:\n{stdout}"
    grids = ({}, {})
    for i, line in enumerate(lines[start + 1:]):
        if "|" not in line:
            break
        for side, text in enumerate(line.split("|")):
            for j, cell in enumerate(re.findall(r"(-?[\d.]+(?:e[-+]\d+)?|nan|-?inf)(\*?)", text)):
                grids[side][(i, j)] = (float(cell[0]), cell[1] == "*")
    return grids


def test_convgrade_submit_prints_expected_and_got_with_the_differing_cells_marked(terminal):
    stdout = terminal["bob"]
    assert "\x1b[" not in stdout, "no colours on a pipe"
    expected, got = printed_grids(stdout, WORKED)
    wanted = skips_edge_got()
    assert {k: v for k, (v, _) in expected.items()} == {(i, j): EXPECTED[i][j] for i in range(2) for j in range(2)}
    assert {k: v for k, (v, _) in got.items()} == {(i, j): wanted[i][j] for i in range(2) for j in range(2)}
    for grid in (expected, got):
        assert {k for k, (_, m) in grid.items() if m} == {(0, 1), (1, 0), (1, 1)}
    assert "3 of 4 cells differ (2 x 2)" in stdout


def test_convgrade_submit_prints_both_shapes_when_they_differ(terminal):
    expected, got = printed_grids(terminal["carol"], WORKED)
    assert len(expected) == 4 and len(got) == 1 and got[(0, 0)] == (EXPECTED[0][0], False)
    assert "The shapes differ: expected 2 x 2, got 1 x 1" in terminal["carol"]


def test_convgrade_submit_prints_the_diagnosis_and_the_instructors_note_under_the_message(terminal, grader):
    diagnosis = served_check(grader, "erin")["diagnosis"]
    lines = [line.strip() for line in terminal["erin"].split(f"FAIL {WORKED}:", 1)[1].splitlines()]
    at = lines.index(f"diagnosis: {diagnosis}")
    assert "wrong values" in lines[at - 1], "right under the check's message"
    assert lines[at + 1] == f"instructor's note: {COMMENT}"
    # dave, graded before the comment was written, got the diagnosis only
    assert f"diagnosis: {diagnosis}" in terminal["dave"] and "instructor's note" not in terminal["dave"]
