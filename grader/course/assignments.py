"""What this grader can grade: the course directory and where each assignment's parts live."""

import os
from pathlib import Path

COURSE_DIR = Path(os.environ.get("CONVGRADE_COURSE_DIR", Path(__file__).resolve().parents[2]))
SOLUTIONS = COURSE_DIR / "solutions"
EXERCISES = COURSE_DIR / "exercises"
SUITES = COURSE_DIR / "autograde_tests"


def names():
    """Every assignment that has both a source notebook and a hidden suite."""
    if not SUITES.is_dir():
        return []
    return sorted(p.name for p in SUITES.iterdir()
                  if p.is_dir() and source_notebook(p.name).is_file())


def authored():
    """Every assignment with a source notebook in solutions/ (what `convgrade release` releases)."""
    if not SOLUTIONS.is_dir():
        return []
    return sorted(p.name for p in SOLUTIONS.iterdir() if source_notebook(p.name).is_file())


def source_notebook(assignment):
    return SOLUTIONS / assignment / f"{assignment}.ipynb"


def released_notebook(assignment):
    return EXERCISES / assignment / f"{assignment}.ipynb"


def suite_dir(assignment):
    return SUITES / assignment


def data_dir():
    return Path(os.environ.get("CONVGRADE_DATA_DIR", COURSE_DIR / "data")).resolve()


def hidden_paths():
    """What sandboxed code must never read: hidden suites, solutions, the project's tests, the data."""
    return [SUITES, SOLUTIONS, COURSE_DIR / "tests", COURSE_DIR / ".git", data_dir()]
