"""grade(notebook, assignment): the one grading core behind the CLI, the service and nbgrader.

Read and validate the notebook, assemble its program, run it in a sandbox, run the
hidden suite against it here in the trusted process, and return the result of
CONTRACT.md section 3.
"""

import secrets
import time
from pathlib import Path

from grader.course import assignments, deadlines, notebook
from grader.course.notebook import NotebookError
from grader.engine import hints, runner, secret, shortcuts
from grader.engine.runner import max_score  # each suite is collected once per process
from grader.engine.sandbox import Limits, Sandbox, Zygote
from grader.engine.student import Student, StudentError, clip

MAX_OUTPUT_CHARS = 1500      # one check's message
MAX_NOTE_CHARS = 400
MAX_STDOUT_BYTES = 16 << 10  # what the program printed, as shown back


def new_seed():
    """A fresh per-submission seed: hidden random inputs differ from one submission to the next."""
    return secrets.randbelow(2**31)


def grade(submission, assignment=None, limits=None, seed=None):
    """Grade a notebook given as a path or as bytes; never raises for a bad submission.

    `seed` fixes the hidden random inputs and the sandbox's generators: the same notebook
    with the same seed gets the same result, test for test, on the same installation (the
    result records it). Neither is the seed itself: the inputs are drawn from
    HMAC(secret, seed, check), the sandbox is seeded from HMAC(secret, seed, "sandbox")
    (grader.engine.secret), so nothing the program can read reveals the inputs."""
    started = time.monotonic()
    seed = new_seed() if seed is None else int(seed)
    path = submission if isinstance(submission, (str, Path)) else None
    try:
        raw = Path(path).read_bytes() if path is not None else bytes(submission)
        nb = notebook.read(raw)
        assignment = assignment or notebook.guess_assignment(nb, path)
        program = notebook.build_program(nb, assignment)
    except NotebookError as exc:
        return ungradable(assignment, exc.errors, time.monotonic() - started, seed)
    except OSError as exc:
        return ungradable(assignment, [f"the file could not be read: {exc.strerror or exc}"],
                          time.monotonic() - started, seed)
    except Exception as exc:  # a hostile file must cost its own grade only, never the batch's
        return ungradable(assignment, [f"the notebook could not be read ({type(exc).__name__})"],
                          time.monotonic() - started, seed)
    devices = runner.available_devices()
    with Sandbox(program.cells, limits or Limits(), assignments.hidden_paths(),
                 [assignments.COURSE_DIR], seed=secret.sandbox_seed(seed)) as sandbox:
        student = Student(sandbox, program.answers, program.student_code, cells=program.cells)
        tests = runner.run_suite(assignment, student, devices, seed=seed)
        notes = (program.notes + _skipped_notes(sandbox.program, program)
                 + shortcuts.apply_policy(tests, deadlines.policy()) + _cell_error_notes(student, program.cells)
                 + sandbox.notes)
        weakened = sandbox.weakened
    stdout = sandbox.stdout.text()  # after close: the capture has drained the pipe
    for test in tests:
        test["output"] = clip(test["output"], MAX_OUTPUT_CHARS)
    hints.attach(assignment, tests)   # after the verdicts: a hint changes no score
    result = {
        "assignment": assignment, "gradable": True,
        "score": sum(t["score"] for t in tests),
        "max_score": max_score(assignment),
        "execution_time": round(time.monotonic() - started, 3),
        "devices": devices, "seed": seed, "tests": tests,
        "notes": [clip(n, MAX_NOTE_CHARS) for n in notes[:50]],
        "stdout": stdout[:MAX_STDOUT_BYTES],
    }
    if weakened:
        result["sandbox_weakened"] = weakened
    return result


def _skipped_notes(reply, program):
    """One note per statement the sandbox did not run (a shell escape, a script cell magic),
    quoting the student's own line where the sandbox's report names one."""
    value = reply.get("value") if isinstance(reply, dict) and reply.get("ok") else None
    skipped = value.get("skipped") if isinstance(value, dict) else None
    sources = {cell["id"]: cell["source"].split("\n") for cell in program.cells}
    notes = []
    for item in (skipped if isinstance(skipped, list) else [])[:10]:
        if not isinstance(item, dict):
            continue
        cell, line = item.get("cell"), item.get("line")
        lines = sources.get(cell, [])
        if isinstance(line, int) and 0 < line <= len(lines) and lines[line - 1].strip():
            what = lines[line - 1].strip()
        else:
            what = f"!{item.get('command')}"
        named = cell if str(cell).startswith("cell ") else f"the cell `{cell}`"
        where = f" in {clip(named, 90)}, line {line}" if cell in sources and isinstance(line, int) else ""
        notes.append(f"`{clip(what, 120)}`{where} did not run: the grading sandbox cannot start programs")
    return notes


def _cell_error_notes(student, cells=()):
    """One note per cell of the program that raised: what depends on it is what it costs."""
    sources = {cell["id"]: cell["source"] for cell in cells}
    notes = []
    for label, error in student.program_errors()[:20]:
        why = _SHARED_MEMORY_HINT if _needs_shared_memory(error, sources.get(label, "")) else ""
        notes.append(f"{StudentError.from_child(error, f'`{label}`')}{why}; "
                     "grading went on with the cells after it")
    return notes


_SHARED_MEMORY_HINT = (" (worker processes, such as a DataLoader's with num_workers > 0, talk through "
                       "shared memory, which the grading sandbox does not give; num_workers=0 runs the same here)")


def _needs_shared_memory(error, source):
    """A refused shared mapping in a cell that starts worker processes: said in plain words."""
    return (isinstance(error, dict) and error.get("type") == "PermissionError"
            and any(word in source for word in ("num_workers", "multiprocessing", "Pool(")))


def ungradable(assignment, errors, seconds=0.0, seed=None):
    known = assignment in assignments.names()
    result = {
        "assignment": assignment if known or assignment is None else clip(assignment, 100),
        "gradable": False, "score": 0.0,
        "max_score": max_score(assignment) if known else 0.0,
        "execution_time": round(seconds, 3), "devices": runner.available_devices(),
        "tests": [], "format_errors": [clip(e, MAX_NOTE_CHARS) for e in errors],
    }
    if seed is not None:
        result["seed"] = seed
    return result


def warm_up():
    """Start the sandbox zygote, read the secret and import every suite now, not on the
    first submission."""
    Zygote.shared()
    secret.installation_secret()
    for assignment in assignments.names():
        max_score(assignment)
