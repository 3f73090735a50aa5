"""grade(notebook, assignment): the one grading core behind the CLI, the service and nbgrader.

Read and validate the notebook, assemble its program, run it in a sandbox, run the
hidden suite against it here in the trusted process, and return the result of
CONTRACT.md section 3.
"""

import functools
import time
from pathlib import Path

from grader import assignments, notebook, runner
from grader.notebook import NotebookError
from grader.sandbox import Limits, Sandbox, Zygote
from grader.student import Student


def grade(submission, assignment=None, limits=None):
    """Grade a notebook given as a path or as bytes; never raises for a bad submission."""
    started = time.monotonic()
    path = submission if isinstance(submission, (str, Path)) else None
    try:
        raw = Path(path).read_bytes() if path is not None else bytes(submission)
        nb = notebook.read(raw)
        assignment = assignment or notebook.guess_assignment(nb, path)
        program = notebook.build_program(nb, assignment)
    except (NotebookError, OSError) as exc:
        errors = exc.errors if isinstance(exc, NotebookError) else [f"the file could not be read: {exc}"]
        return ungradable(assignment, errors, time.monotonic() - started)
    devices = runner.available_devices()
    with Sandbox(program.cells, limits or Limits(), assignments.hidden_paths(),
                 [assignments.COURSE_DIR]) as sandbox:
        tests = runner.run_suite(assignment, Student(sandbox, program.answers), devices)
        stdout = sandbox.stdout.text()
        weakened = sandbox.weakened
    result = {
        "assignment": assignment, "gradable": True,
        "score": sum(t["score"] for t in tests),
        "max_score": max_score(assignment),
        "execution_time": round(time.monotonic() - started, 3),
        "devices": devices, "tests": tests,
        "notes": program.notes,
        "stdout": stdout,
    }
    if weakened:
        result["sandbox_weakened"] = weakened
    return result


def ungradable(assignment, errors, seconds=0.0):
    return {
        "assignment": assignment, "gradable": False, "score": 0.0,
        "max_score": max_score(assignment) if assignment in assignments.names() else 0.0,
        "execution_time": round(seconds, 3), "devices": runner.available_devices(),
        "tests": [], "format_errors": list(errors),
    }


def warm_up():
    """Start the sandbox zygote and import every suite now, not on the first submission."""
    Zygote.shared()
    for assignment in assignments.names():
        max_score(assignment)


@functools.cache
def max_score(assignment):
    return runner.max_score(assignment)
