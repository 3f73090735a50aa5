"""`convgrade grade` as a user runs it: exit codes, --json, a submitted/ tree and its CSV; the
long commands (grade over a tree, release, similarity, gradescope, regrade) through a real
pseudo-terminal: a progress bar there, none on a pipe or with --json, and a closing line that
says what they did."""

import csv
import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import zipfile
from pathlib import Path

import pytest

from submissions import CORPUS, CorpusEntry, make_submission

A1 = "a1_cross_correlation"


def convgrade(*args):
    return subprocess.run([sys.executable, "-m", "grader.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def submitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("course") / "submitted"
    for student, reference in (("alice", True), ("bob", False)):
        folder = root / student / A1
        folder.mkdir(parents=True)
        (folder / f"{A1}.ipynb").write_bytes(make_submission(A1, reference=reference))
    return root


def test_grades_one_notebook_as_json(submitted):
    run = convgrade("grade", submitted / "alice" / A1 / f"{A1}.ipynb", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["assignment"] == A1 and result["score"] == result["max_score"] > 0
    assert {"name", "number", "score", "max_score", "status", "output"} <= set(result["tests"][0])


def test_grades_a_submitted_tree_into_a_csv(submitted, tmp_path):
    gradebook = tmp_path / "grades.csv"
    run = convgrade("grade", submitted, "--out", gradebook, "--jobs", "2")
    assert run.returncode == 0, run.stderr
    rows = {row["student"]: row for row in csv.DictReader(gradebook.open())}
    assert float(rows["alice"]["score"]) == float(rows["alice"]["max_score"]) > 0
    assert float(rows["bob"]["score"]) == 0


@pytest.mark.parametrize("content, message", [
    (b"not json at all", "not a Jupyter notebook"),
    (b'{"nbformat": 3, "cells": []}', "missing an expected key"),
    (b'{"nbformat": 4, "metadata": ' + b'{"a": ' * 500 + b'1' + b'}' * 500 + b', "cells": []}', "nested"),
    (b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "no known assignment"),
])
def test_an_ungradable_notebook_exits_2_with_one_line(tmp_path, content, message):
    path = tmp_path / "homework.ipynb"
    path.write_bytes(content)
    run = convgrade("grade", path)
    assert run.returncode == 2
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_a_missing_or_wrong_file_exits_2(tmp_path):
    assert convgrade("grade", tmp_path / "nope.ipynb").returncode == 2
    (tmp_path / "notes.txt").write_text("hello")
    run = convgrade("grade", tmp_path / "notes.txt")
    assert run.returncode == 2 and "not a notebook" in run.stderr


def test_grades_a_corpus_entry_as_the_notebook_it_makes():
    """`convgrade grade ENTRY.py`: the entry's notebook loses exactly the checks its `# loses:` names."""
    entry = CorpusEntry(CORPUS / A1 / "corr2d_flipped_kernel.py")
    run = convgrade("grade", entry.path, "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    lost = [t for t in result["tests"] if t["status"] != "passed"]
    assert result["assignment"] == A1 and {t["id"] for t in lost} == entry.loses
    assert result["score"] == result["max_score"] - sum(t["max_score"] for t in lost) > 0


def test_a_corpus_entry_that_cannot_be_graded_is_named_by_its_own_file():
    """Graded as an assignment that does not exist, an entry's notebook is refused; the error
    names the .py the user gave, not the notebook made from it in a temporary folder."""
    entry = CorpusEntry(CORPUS / A1 / "corr2d_flipped_kernel.py")
    run = convgrade("grade", entry.path, "--assignment", "no_such_assignment")
    assert run.returncode == 2, run.stderr
    assert f"{entry.path} cannot be graded" in run.stderr and "convgrade-entry-" not in run.stderr, run.stderr


def test_a_python_file_that_is_no_corpus_entry_exits_2(tmp_path):
    (tmp_path / A1).mkdir()
    (tmp_path / A1 / "helper.py").write_text("def corr2d(X, K):\n    pass\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "entry.py").write_text("# loses:\n# cell: corr2d\ndef corr2d(X, K):\n    pass\n")
    for path, message in ((tmp_path / A1 / "helper.py", "no '# loses:' line"),
                          (tmp_path / "elsewhere" / "entry.py", "elsewhere, names no assignment")):
        run = convgrade("grade", path)
        assert run.returncode == 2 and "is not a corpus entry" in run.stderr and message in run.stderr, run.stderr


def test_a_tree_without_nbgrader_timestamps_is_named(submitted, tmp_path):
    """Deadlines apply to a collected tree through nbgrader's timestamp.txt: alice's says she
    was late (80% credit); bob's folder was copied in with cp and has none, which is said."""
    course = tmp_path / "course.toml"
    course.write_text(f'[assignments.{A1}]\ndue = 2026-09-15T23:59:00Z\n'
                      'late = [{ until = 2026-09-17T23:59:00Z, credit = 0.8 }]\n')
    stamp = submitted / "alice" / A1 / "timestamp.txt"
    stamp.write_text("2026-09-16 12:00:00.000000 UTC")
    out = tmp_path / "grades.csv"
    env = {**os.environ, "CONVGRADE_COURSE_CONFIG": str(course), "CONVGRADE_DATA_DIR": str(tmp_path / "data")}
    try:
        run = subprocess.run([sys.executable, "-m", "grader.cli", "grade", str(submitted), "--out", str(out)],
                             capture_output=True, text=True, timeout=300, env=env)
    finally:
        stamp.unlink()
    assert run.returncode == 0, run.stderr
    rows = {row["student"]: row for row in csv.DictReader(out.open())}
    assert float(rows["alice"]["credit"]) == 0.8 and rows["alice"]["collected_at"].startswith("2026-09-16")
    assert float(rows["bob"]["credit"]) == 1.0 and rows["bob"]["collected_at"] == ""
    warning = [line for line in run.stderr.splitlines() if "timestamp.txt" in line]
    assert len(warning) == 1 and f"bob/{A1}" in warning[0] and "alice" not in warning[0], run.stderr


def test_results_out_of_other_points_than_the_release_are_warned_about():
    from grader.operations.gradebook import points_warnings, released_points

    stated = released_points(A1)
    assert stated and set(stated) == {"corr2d", "Conv2D", "learn_edge_kernel"}

    def result(corr2d_points):
        tests = [{"exercise": ex, "number": f"{ex}.1", "name": ex, "status": "passed",
                  "score": points, "max_score": points}
                 for ex, points in {**stated, "corr2d": corr2d_points}.items()]
        return {"gradable": True, "tests": tests, "score": 0, "max_score": 0}

    assert points_warnings(A1, [result(stated["corr2d"])]) == []
    warned = points_warnings(A1, [result(stated["corr2d"]), result(stated["corr2d"] + 10)])
    assert len(warned) == 1 and f"corr2d {stated['corr2d']:g} -> {stated['corr2d'] + 10:g}" in warned[0]


def test_the_text_summary_puts_notes_first_and_exercises_in_notebook_order():
    from grader.cli import summary

    def check(exercise, number, status):
        return {"exercise": exercise, "number": number, "name": number, "status": status,
                "score": float(status == "passed"), "max_score": 1.0, "output": "" if status == "passed" else "why"}

    result = {"assignment": A1, "gradable": True, "score": 2, "max_score": 4, "execution_time": 0.5,
              "devices": ["cpu"], "seed": 1, "notes": ["the answer cell `corr2d` appears 2 times"],
              "tests": [check("Conv2D", "Conv2D.1", "passed"), check("corr2d", "corr2d.10", "passed"),
                        check("corr2d", "corr2d.2", "failed"), check("learn_edge_kernel", "learn.1", "failed")]}
    lines = summary(result).splitlines()
    assert lines[0].startswith("  note: the answer cell")
    exercises = [line.split(":")[0].strip() for line in lines[2:] if not line.startswith("    ")]
    assert exercises == ["corr2d", "Conv2D", "learn_edge_kernel"], lines
    checks = [line.split()[1] for line in lines if line.startswith("    ") and line.split()[0] in ("ok", "FAIL")]
    assert checks[:2] == ["corr2d.2", "corr2d.10"], lines     # the failure first within its exercise


def test_serve_on_a_busy_port_says_so_before_serving(tmp_path):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {**os.environ, "CONVGRADE_DATA_DIR": str(tmp_path / "data"), "CONVGRADE_WORKERS": "1"}
        run = subprocess.run([sys.executable, "-m", "grader.cli", "serve", "--port", str(port)],
                             capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == (f"convgrade: cannot serve on 127.0.0.1:{port}: another program listens there; "
                                  "stop it or choose another port with --port"), run.stderr


REPO = Path(__file__).resolve().parent.parent


def on_a_terminal(*args, env=None, cwd=None):
    """`convgrade ARGS` with its stdout and stderr on a pseudo-terminal, as in a shell: (exit code, all it wrote)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))   # 24 rows, 100 columns
    process = subprocess.Popen([sys.executable, "-m", "grader.cli", *map(str, args)], stdin=subprocess.DEVNULL,
                               stdout=follower, stderr=follower, env=env, cwd=cwd)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:            # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=300), b"".join(chunks).decode(errors="replace")


def bar(text, label):
    """The last state tqdm drew of the bar labelled `label` (its count, e.g. '2/2'), or None."""
    counts = re.findall(rf"{label}: .*?(\d+/\d+)", text)
    return counts[-1] if counts else None


def test_grading_a_tree_shows_progress_on_a_terminal_and_says_what_it_did(submitted, tmp_path):
    code, text = on_a_terminal("grade", submitted, "--out", tmp_path / "grades.csv", "--jobs", "2")
    assert code == 0, text
    assert (bar(text, "grading") or "").endswith("/2"), text          # drawn, then cleared when done
    assert f"graded 2 notebook(s) of 2 student(s), 0 not gradable; wrote {tmp_path / 'grades.csv'}" in text, text
    piped = convgrade("grade", submitted, "--jobs", "2")
    assert bar(piped.stderr, "grading") is None and "graded 2 notebook(s)" in piped.stderr, piped.stderr
    rows = [line for line in piped.stdout.splitlines() if line.strip()]
    assert len(rows) == 2 and len({line.index(" / ") for line in rows}) == 1, rows   # one column of scores
    # --json on a terminal: the results alone, no bar among them
    code, text = on_a_terminal("grade", submitted, "--jobs", "2", "--json")
    assert code == 0 and bar(text, "grading") is None, text
    assert len(json.loads(text[text.index("["):text.rindex("]") + 1])) == 2, text


def test_release_shows_progress_and_names_what_it_wrote(tmp_path):
    course = tmp_path / "course"
    for part in ("solutions", "autograde_tests"):
        shutil.copytree(REPO / part / "a3_output_shapes", course / part / "a3_output_shapes")
    shutil.copy(REPO / "autograde_tests/__init__.py", course / "autograde_tests")
    shutil.copy(REPO / "nbgrader_config.py", course)
    env = {**os.environ, "CONVGRADE_COURSE_DIR": str(course), "PYTHONPATH": str(REPO)}
    code, text = on_a_terminal("release", env=env, cwd=course)
    assert code == 0, text
    assert (bar(text, "releasing") or "").endswith("/1"), text
    assert "released 1 assignment(s) into exercises/: exercises/a3_output_shapes/a3_output_shapes.ipynb" in text
    assert (course / "exercises/a3_output_shapes/a3_output_shapes.ipynb").is_file()
    piped = subprocess.run([sys.executable, "-m", "grader.cli", "release"], capture_output=True, text=True,
                           timeout=300, env=env, cwd=course)
    assert piped.returncode == 0 and bar(piped.stderr, "releasing") is None, piped.stderr
    assert piped.stderr.splitlines() == ["convgrade: wrote docs/student-api.md from the answer cells",
                                         "convgrade: released 1 assignment(s) into exercises/: "
                                         "exercises/a3_output_shapes/a3_output_shapes.ipynb"], piped.stderr
    assert "a3_output_shapes" in (course / "docs/student-api.md").read_text()


def test_similarity_shows_progress_only_on_a_terminal(submitted):
    code, text = on_a_terminal("similarity", submitted, "--assignment", A1)
    assert code == 0 and (bar(text, "comparing") or "").endswith("/1"), text
    piped = convgrade("similarity", submitted, "--assignment", A1, "--json")
    assert piped.returncode == 0 and piped.stderr == "" and json.loads(piped.stdout)["pairs"] is not None


def test_extending_an_assignment_that_does_not_exist_says_so(tmp_path):
    course = tmp_path / "course.toml"
    course.write_text(f"[assignments.{A1}]\ndue = 2026-09-15T23:59:00Z\n")
    env = {**os.environ, "CONVGRADE_COURSE_CONFIG": str(course), "CONVGRADE_DATA_DIR": str(tmp_path / "data")}
    for action in (["--due", "2026-09-20T23:59:00Z"], ["--remove"]):
        run = subprocess.run([sys.executable, "-m", "grader.cli", "extend", "alice", "a1_nope", *action],
                             capture_output=True, text=True, timeout=120, env=env)
        assert run.returncode == 2 and run.stderr.startswith("convgrade: no such assignment: a1_nope; "), run.stderr
        assert A1 in run.stderr and "deadlines" not in run.stderr, run.stderr
    # a real assignment without deadlines is still told apart
    run = subprocess.run([sys.executable, "-m", "grader.cli", "extend", "alice", "a4_pooling", "--due",
                          "2026-09-20T23:59:00Z"], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 2 and "a4_pooling has no deadlines" in run.stderr, run.stderr


def test_the_text_summary_aligns_its_columns_whatever_the_widths():
    from grader.cli import summary

    def check(number, score, max_score):
        return {"exercise": "corr2d", "number": number, "name": f"name of {number}", "status": "passed",
                "score": score, "max_score": max_score, "output": ""}

    result = {"assignment": A1, "gradable": True, "score": 13.5, "max_score": 13.5, "execution_time": 0.5,
              "devices": ["cpu"], "seed": 1,
              "tests": [check("corr2d.1", 1, 1), check("corr2d.a_rather_long_check_number", 12.5, 12.5)]}
    checks = [line for line in summary(result).splitlines() if line.startswith("    ok")]
    assert len(checks) == 2 and len({line.index("name of") for line in checks}) == 1, checks


def test_gradescope_shows_progress_only_on_a_terminal_and_names_the_zip(tmp_path):
    out = tmp_path / "autograder.zip"
    code, text = on_a_terminal("gradescope", out, "--assignment", A1)
    assert code == 0, text
    files = len(zipfile.ZipFile(out).namelist())
    # counting the package's and the suite's files (the three scripts at the root are written whole)
    assert (bar(text, "packing") or "").endswith(f"/{files - 3}"), text
    assert f"convgrade: wrote {out}: {files} files, the grader with the hidden suites and solutions of {A1}" in text
    out.unlink()
    piped = convgrade("gradescope", out, "--assignment", A1)
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr     # no bar, no stray line
    assert piped.stdout.startswith(f"convgrade: wrote {out}: {files} files") and out.is_file(), piped.stdout


@pytest.fixture(scope="module")
def graded_service(tmp_path_factory):
    """A real `convgrade serve` (embedded queue, its own worker) holding one graded submission of A1
    (the released stubs: quick to grade again)."""
    from service_harness import Client, Service, import_roster

    service = Service(tmp_path_factory.mktemp("regrade") / "data", workers=1)
    tokens = import_roster(service.data_dir, ["alice"], service.env)
    service.start()
    try:
        response = Client(service.url, tokens["alice"]).submit(make_submission(A1, reference=False), A1, wait=240)
        assert response.ok and response.json()["status"] == "done", response.text
        yield service
    finally:
        service.stop()


def test_regrade_shows_progress_only_on_a_terminal_and_without_json(graded_service):
    env = graded_service.env
    code, text = on_a_terminal("regrade", "--assignment", A1, "--wait", "240", env=env)
    assert code == 0, text
    assert (bar(text, "regrading") or "").endswith("/1"), text
    assert "convgrade: queued 1 submission(s) for regrading" in text, text
    assert "convgrade: 0 score(s) changed, 1 unchanged" in text, text
    # --json on the same terminal: the JSON alone, no bar in it
    code, text = on_a_terminal("regrade", "--assignment", A1, "--wait", "240", "--json", env=env)
    assert code == 0 and bar(text, "regrading") is None, text
    assert json.loads(text[text.index("{"):text.rindex("}") + 1]) == {"changed": [], "pending": []}, text
    # through a pipe: the closing line, no bar
    piped = subprocess.run([sys.executable, "-m", "grader.cli", "regrade", "--assignment", A1, "--wait", "240"],
                           capture_output=True, text=True, timeout=300, env=env)
    assert piped.returncode == 0 and bar(piped.stderr, "regrading") is None, piped.stderr
    assert piped.stderr.splitlines() == ["convgrade: queued 1 submission(s) for regrading",
                                         "convgrade: 0 score(s) changed, 1 unchanged"], piped.stderr
