"""nbgrader's door: a hidden test cell scores one exercise with the same hidden suite.

The graded test cell of each exercise in solutions/ ends with

    ### BEGIN HIDDEN TESTS
    from grader.doors.nbgrader_bridge import score_exercise
    score_exercise("a1_cross_correlation", "corr2d", globals())
    ### END HIDDEN TESTS

and nbgrader takes the number it evaluates to as partial credit. Under nbgrader the
student's code and these checks share one kernel, so a student can rig what the checks
see (replace torch.isclose, say); `convgrade grade` runs the same suite across a process
boundary where that is impossible. Use this door for practice and parity, not for
graded work. For the same reason this door never reads the installation's secret
(grader.engine.secret): its hidden inputs come from a random secret of the kernel's own process.
"""

import contextlib
import io
import random
import re
import warnings

import numpy
import torch

from grader import wire
from grader.course import deadlines
from grader.course.notebook import CELL_SEPARATOR
from grader.engine import runner, secret, shortcuts
from grader.engine.sandbox import _place_on_device
from grader.engine.student import Student
from grader.untrusted.child import Child, answer, seed_everything


class KernelSandbox:
    """The Sandbox interface over the notebook's own globals, in this process.

    A kernel cannot be forked, so a "fresh start" here is only the generators: every check,
    and every call a check makes through `student.fresh()`, starts from `seed` again (the
    state of the kernel's objects is shared, which is one reason this door is for practice)."""

    def __init__(self, namespace, seed=0):
        self._child = Child(namespace)
        self.seed = seed
        self.program = {"ok": True, "value": {"cells": [], "names": self._child._describe_names()}}

    def ensure_started(self):
        pass

    def new_check(self):
        """One kernel, one state: under nbgrader every check shares the notebook's globals; each
        check starts from the same generators, as in convgrade."""
        seed_everything(self.seed)

    def request(self, op, payload, timeout=None, fresh=False):
        if not fresh:
            return self._request(op, payload)
        saved = random.getstate(), numpy.random.get_state()
        with torch.random.fork_rng():
            seed_everything(self.seed)
            try:
                return self._request(op, payload)
            finally:
                random.setstate(saved[0])
                numpy.random.set_state(saved[1])

    def _request(self, op, payload):
        tensors = {}
        header = {"op": op, "payload": wire.encode(payload, tensors)}
        # Through bytes both ways, as across the sandbox boundary: otherwise a student's
        # in-place write would land in the suite's own input tensors.
        header, tensors = answer(self._child, header, wire.through_bytes(tensors))
        return wire.decode(header["payload"], wire.through_bytes(tensors), _place_on_device)


def score_exercise(assignment, exercise, namespace):
    """Run the checks of one exercise against the kernel's definitions; print feedback, return points."""
    history = [cell for cell in namespace.get("In", []) or [] if isinstance(cell, str) and not _bridge_cell(cell)]
    student = Student(KernelSandbox(namespace), answer_sources(namespace), CELL_SEPARATOR.join(history))
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), secret.private_secret():
        warnings.simplefilter("ignore")  # nbgrader gives 0 to a cell that writes to stderr
        outcomes = runner.run_suite(assignment, student, exercise=exercise)
    for note in shortcuts.apply_policy(outcomes, deadlines.policy()):
        print(note)
    for outcome in outcomes:
        mark = "ok  " if outcome["status"] == "passed" else "FAIL"
        print(f"{mark} {outcome['score']:g}/{outcome['max_score']:g}  {outcome['name']}")
        if outcome["output"]:
            print(f"      {outcome['output']}")
    return float(sum(o["score"] for o in outcomes))


_DEFINES = re.compile(r"^(?:(?:async\s+)?def\s+(\w+)|class\s+(\w+)|(\w+)\s*(?::[^=\n]*)?=(?!=))", re.MULTILINE)


def _bridge_cell(source):
    """A hidden test cell of this door (its `globals()` is the door's, not the student's code)."""
    lines = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    return bool(lines) and all(line == "from grader.doors.nbgrader_bridge import score_exercise"
                               or re.fullmatch(r'score_exercise\("\w+", "\w+", globals\(\)\)', line)
                               for line in lines)


def answer_sources(namespace):
    """The source of the last executed cell that defines each name at its top level (`def`,
    `class`, or an assignment such as `corr2d = lambda X, K: ...`), from IPython's history."""
    sources = {}
    for cell in namespace.get("In", []) or []:
        if not isinstance(cell, str):
            continue
        for match in _DEFINES.finditer(cell):
            sources[next(name for name in match.groups() if name)] = cell
    return sources
