"""Running a hidden suite with pytest, in the trusted process, and scoring what it reports.

`run_suite` hands the suite a `student` (grader.student.Student) and a `devices` list
through a plugin object, and collects one outcome per test from pytest's report hooks;
terminal output is never parsed. A failure's feedback is the check's own message, never
a traceback of the hidden test.
"""

import contextlib
import io
import sys

import pytest
import torch

from grader import assignments
from grader.checks import CheckFailed
from grader.student import StudentError


def available_devices():
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    return devices


def configure_torch():
    """References in exact float32 (no TF32), on one thread: they are tiny, and a pool runs
    one grading process per core, so intra-op threads only add start-up and contention."""
    torch.set_num_threads(1)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


_THIS_RUN = pytest.StashKey()


@pytest.fixture(scope="session")
def student(request):
    """The submission under test (grader.student.Student)."""
    return request.config.stash[_THIS_RUN]._student


@pytest.fixture(scope="session")
def seed(request):
    """The submission's seed: draw hidden random inputs from it (grader.checks.rng)."""
    return request.config.stash[_THIS_RUN]._seed


@pytest.fixture(scope="session")
def devices(request):
    """"cpu", and "cuda" where present: every numeric check runs on each."""
    return list(request.config.stash[_THIS_RUN]._devices)


class SuitePlugin:
    """The bridge between pytest and the grader: fixtures in, outcomes out."""

    def __init__(self, student, devices, exercise=None, seed=0):
        self._student = student
        self._seed = seed
        self._exercise = exercise
        self._devices = devices
        self.outcomes = []
        self.checks = {}
        self._recorded = set()

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "check(exercise, points, name): one graded check")
        config.stash[_THIS_RUN] = self

    def pytest_collection_modifyitems(self, config, items):
        if self._exercise is not None:
            keep = [i for i in items if _exercise_of(i) == self._exercise]
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep
        per_exercise = {}
        for item in items:
            marker = item.get_closest_marker("check")
            if marker is None:
                continue
            exercise = marker.kwargs["exercise"]
            per_exercise[exercise] = per_exercise.get(exercise, 0) + 1
            self.checks[item.nodeid] = {
                "id": item.name, "name": marker.kwargs["name"], "exercise": exercise,
                "number": f"{exercise}.{per_exercise[exercise]}",
                "max_score": float(marker.kwargs["points"]),
            }

    def pytest_runtest_setup(self, item):
        """Every check starts from the executed notebook again, in a fresh process."""
        if self._student is not None:
            self._student.begin_check()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = (yield).get_result()
        check = self.checks.get(item.nodeid)
        if check is None or item.nodeid in self._recorded:
            return
        if report.failed or report.skipped or report.when == "call":
            self._recorded.add(item.nodeid)
            passed = report.passed and report.when == "call"
            self.outcomes.append({
                **check, "status": "passed" if passed else "failed",
                "score": check["max_score"] if passed else 0.0,
                "output": "" if passed else _feedback(call.excinfo),
                "visibility": "visible",
            })


def _exercise_of(item):
    marker = item.get_closest_marker("check")
    return marker.kwargs["exercise"] if marker else None


def _feedback(excinfo):
    if excinfo is None:
        return "this check failed"
    error = excinfo.value
    if isinstance(error, (CheckFailed, StudentError)):
        return str(error)
    if isinstance(error, AssertionError):
        return str(error) or "this check failed"
    return (f"the grader could not finish this check ({type(error).__name__}); "
            "your code may have returned something of an unexpected kind")


# Plugins a hidden suite does not need. unraisableexception and threadexception call
# gc.collect() several times per session, which costs most of a second with torch loaded.
_QUIET = ["-p", "no:cacheprovider", "-p", "no:unraisableexception", "-p", "no:threadexception",
          "-p", "no:faulthandler", "-p", "no:warnings", "-p", "no:logging", "-p", "no:legacypath",
          "-p", "no:junitxml", "-p", "no:doctest", "-p", "no:pastebin", "-p", "no:stepwise",
          "-p", "no:setuponly", "-p", "no:setupplan", "-p", "no:nose", "-p", "no:tmpdir",
          "--rootdir", str(assignments.COURSE_DIR), "-o", "addopts=", "-o", "python_files=test_*.py"]


def run_suite(assignment, student, devices=None, exercise=None, seed=0):
    """Run the hidden suite of `assignment` (or one exercise of it) against `student`."""
    configure_torch()
    plugin = SuitePlugin(student, devices or available_devices(), exercise, seed)
    args = [str(assignments.suite_dir(assignment)), "-q", "--assert=plain", *_QUIET]
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(args, plugins=[plugin, sys.modules[__name__]])
    return plugin.outcomes


def collect_checks(assignment):
    """The checks of an assignment (name, number, exercise, max_score), without running them."""
    plugin = SuitePlugin(student=None, devices=["cpu"])
    args = [str(assignments.suite_dir(assignment)), "--collect-only", "-q", *_QUIET]
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(args, plugins=[plugin, sys.modules[__name__]])
    return list(plugin.checks.values())


def max_score(assignment):
    return sum(c["max_score"] for c in collect_checks(assignment))
