"""`convgrade grade` as a user runs it: exit codes, --json, a submitted/ tree and its CSV."""

import csv
import json
import subprocess
import sys

import pytest

from submissions import make_submission

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
