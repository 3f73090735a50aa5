"""The Gradescope autograder built by `convgrade gradescope`, run the way Gradescope runs it.

The zip is unpacked into a root laid out like Gradescope's (source/, submission/,
results/; CONVGRADE_AUTOGRADER_ROOT stands in for /autograder), setup.sh builds its own
Python 3.11 venv offline from a wheelhouse of the pinned requirements (pip download into
a cache dir; torch is the on-disk CPU wheel), and run_autograder grades a correct, a
wrong (corpus) and a broken notebook. results.json is checked against Gradescope's
documented fields, and its scores against `convgrade grade`. Slow: a fresh venv with
torch and six grades (about 2 minutes on 2 vCPU; the wheelhouse download is cached).
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.doors.gradescope.results import to_gradescope
from service_harness import REPO
from submissions import CorpusEntry, CORPUS, make_submission

ASSIGNMENT = "a1_cross_correlation"
WHEELHOUSE = Path(os.environ.get("CONVGRADE_TEST_WHEELHOUSE",
                                 Path.home() / ".cache" / "convgrade" / "gradescope-wheelhouse"))
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
# Gradescope's autograder specification, "Output format": every field it documents, no others.
RESULTS_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "score": {"type": "number"}, "execution_time": {"type": "number"}, "output": {"type": "string"},
        "output_format": FORMAT, "test_output_format": FORMAT, "test_name_format": FORMAT,
        "visibility": VISIBILITY, "stdout_visibility": VISIBILITY, "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["score", "max_score"],
            "properties": {
                "score": {"type": "number"}, "max_score": {"type": "number"},
                "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"},
                "name_format": FORMAT, "number": {"type": "string"}, "output": {"type": "string"},
                "output_format": FORMAT, "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": VISIBILITY, "extra_data": {"type": "object"}}}},
    },
    "anyOf": [{"required": ["score"]}, {"properties": {"tests": {"items": {"required": ["score"]}}}}],
}


def _run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _extract(archive, destination):
    """Unzip keeping the executable bits (zipfile drops them)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            zf.extract(info, destination)
            mode = info.external_attr >> 16
            if mode:
                os.chmod(destination / info.filename, mode & 0o777)
        return set(zf.namelist())


def _fill_wheelhouse(requirements):
    """Every pinned wheel in the cache dir (downloaded once); torch from the local CPU wheel."""
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    local_torch = sorted(Path(os.environ.get("CONVGRADE_TORCH_WHEELS", "/opt/wheels")).glob("torch-2.13.0+cpu-*.whl"))
    assert local_torch, "the test installs torch from the on-disk CPU wheel (CONVGRADE_TORCH_WHEELS, default /opt/wheels)"
    for wheel in local_torch:
        if not (WHEELHOUSE / wheel.name).exists():
            shutil.copy(wheel, WHEELHOUSE / wheel.name)
    if _all_pinned_wheels_present(requirements):
        return
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
          "--only-binary=:all:", "--no-deps", "--find-links", str(WHEELHOUSE), "-d", str(WHEELHOUSE), "-r", str(requirements)])


def _all_pinned_wheels_present(requirements):
    from packaging.utils import canonicalize_name, parse_wheel_filename

    have = set()
    for wheel in WHEELHOUSE.glob("*.whl"):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        have.add((canonicalize_name(name), version.public))
    pins = [line.split("==") for line in requirements.read_text().splitlines() if "==" in line]
    return all((canonicalize_name(name), version) in have for name, version in pins)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """A Gradescope-like root with the a1 autograder set up by its own setup.sh."""
    work = tmp_path_factory.mktemp("gradescope")
    archive = work / "autograder.zip"
    _run([sys.executable, "-m", "grader.cli", "gradescope", str(archive), "--assignment", ASSIGNMENT], cwd=REPO)
    root = work / "autograder"
    for folder in ("source", "submission", "results"):
        (root / folder).mkdir(parents=True)
    names = _extract(archive, root / "source")
    _fill_wheelhouse(root / "source" / "requirements.txt")
    env = {**os.environ, "CONVGRADE_AUTOGRADER_ROOT": str(root), "CONVGRADE_WHEELHOUSE": str(WHEELHOUSE),
           "CONVGRADE_PYTHON": sys._base_executable, "PIP_CONFIG_FILE": os.devnull}
    env = {k: v for k, v in env.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "CONVGRADE_COURSE_DIR")}
    _run(["bash", "setup.sh"], cwd=root / "source", env=env, timeout=600)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")   # as Gradescope does
    return root, names, env


def test_the_zip_holds_the_autograder_and_nothing_else_of_the_course(autograder):
    _, names, _ = autograder
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= names
    assert f"solutions/{ASSIGNMENT}/{ASSIGNMENT}.ipynb" in names
    assert any(n.startswith(f"autograde_tests/{ASSIGNMENT}/test_") for n in names)
    tops = {n.split("/")[0] for n in names}
    assert tops == {"setup.sh", "run_autograder", "requirements.txt", "grader", "autograde_tests", "solutions"}
    left_out = ("grader/doors/service/", "grader/doors/lti/", "grader/store/")   # what Gradescope never runs
    assert not any(n.startswith(left_out) or "__pycache__" in n for n in names)
    others = {n.split("/")[1] for n in names if n.startswith(("autograde_tests/", "solutions/")) and n.count("/") > 1}
    assert others == {ASSIGNMENT}, "no other assignment's suite or solution"


def _grade_on_gradescope(root, env, notebook_bytes):
    shutil.rmtree(root / "submission")
    (root / "submission").mkdir()
    (root / "submission" / f"{ASSIGNMENT}.ipynb").write_bytes(notebook_bytes)
    (root / "results" / "results.json").unlink(missing_ok=True)
    _run([str(root / "run_autograder")], cwd=root, env=env, timeout=300)
    return json.loads((root / "results" / "results.json").read_text())


def _grade_here(tmp_path, notebook_bytes):
    """What `convgrade grade` computes (the same grade() call), in this process: no second torch start."""
    from grader.engine.grading import grade

    path = tmp_path / f"{ASSIGNMENT}.ipynb"
    path.write_bytes(notebook_bytes)
    return grade(path)


def _checks(tests):
    return [(t["number"], t["status"], t["score"], t["max_score"]) for t in tests]


@pytest.mark.parametrize("kind", ["correct", "wrong", "broken"])
def test_run_autograder_matches_convgrade_grade(autograder, tmp_path, kind):
    root, _, env = autograder
    notebook = {"correct": lambda: make_submission(ASSIGNMENT),
                "wrong": lambda: CorpusEntry(CORPUS / ASSIGNMENT / "corr2d_off_by_one.py").submission(),
                "broken": lambda: b'{"cells": [], "nbformat": 4'}[kind]()
    results = _grade_on_gradescope(root, env, notebook)
    jsonschema.validate(results, RESULTS_SCHEMA)
    expected = _grade_here(tmp_path, notebook)
    differing = [(ours, theirs) for ours, theirs in zip(results["tests"], expected["tests"])
                 if _checks([ours]) != _checks([theirs])]
    assert results["score"] == expected["score"] and _checks(results["tests"]) == _checks(expected["tests"]), \
        f"Gradescope and convgrade grade disagree on: {differing}"
    if kind == "correct":
        assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0
    elif kind == "wrong":
        failed = [t for t in results["tests"] if t["status"] == "failed"]
        assert failed and all(t["output"] and t["score"] == 0 for t in failed)
        assert 0 < results["score"] < expected["max_score"]
    else:
        assert results["score"] == 0 and results["tests"] == []
        assert "could not be graded" in results["output"] and "JSON" in results["output"]


def test_visibility_is_honoured():
    result = {"assignment": ASSIGNMENT, "gradable": True, "score": 1.0, "max_score": 3.0, "execution_time": 0.5,
              "tests": [{"name": "shown", "number": "corr2d.1", "exercise": "corr2d", "score": 1.0, "max_score": 1.0,
                         "status": "passed", "output": "", "visibility": "visible"},
                        {"name": "secret check", "number": "corr2d.2", "exercise": "corr2d", "score": 0.0,
                         "max_score": 2.0, "status": "failed", "output": "secret input 42", "visibility": "hidden"}]}
    results = to_gradescope(result)
    jsonschema.validate(results, RESULTS_SCHEMA)
    assert [t["visibility"] for t in results["tests"]] == ["visible", "hidden"]
    assert "secret" not in results["output"] and "1 of 1 visible checks passed" in results["output"]
    assert results["stdout_visibility"] == "hidden"
