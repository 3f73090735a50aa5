"""Running a hidden suite with pytest, in the trusted process, and scoring what it reports.

`run_suite` hands the suite a `student` (grader.engine.student.Student) and a `devices` list
through a plugin object, and collects one outcome per test from pytest's report hooks;
terminal output is never parsed. Each suite is collected once per process (`_Suite`). A
failure's feedback is the check's own message, never a traceback of the hidden test.
"""

import random
import sys
import threading

import _pytest.config
import pytest
import torch

from grader.course import assignments
from grader.engine import checks, secret
from grader.engine.checks import CheckFailed, ShortcutFound
from grader.engine.student import StudentError


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
    """The submission under test (grader.engine.student.Student)."""
    return request.config.stash[_THIS_RUN]._student


@pytest.fixture(scope="session")
def seed(request):
    """The submission's seed: draw hidden random inputs from it (grader.engine.checks.rng)."""
    return request.config.stash[_THIS_RUN]._seed


@pytest.fixture(scope="session")
def devices(request):
    """"cpu", and "cuda" where present: every numeric check runs on each."""
    return list(request.config.stash[_THIS_RUN]._devices)


class SuitePlugin:
    """The bridge between pytest and the grader: fixtures in, outcomes out."""

    def __init__(self):
        self.checks = {}
        self.ruled = set()  # exercises with a check of the forbidden-shortcut rule
        self._rule_checks = set()  # those checks' ids
        self.begin(None, ["cpu"], 0)

    def begin(self, student, devices, seed):
        """The next run's submission, devices and seed; its outcomes start empty."""
        self._student = student
        if student is not None:
            student.guard(self.ruled)
        self._seed = seed
        self._devices = devices
        self.outcomes = []
        self._recorded = set()

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "check(exercise, points, name): one graded check")
        config.stash[_THIS_RUN] = self

    def pytest_collection_modifyitems(self, config, items):
        per_exercise = {}
        for item in items:
            marker = item.get_closest_marker("check")
            if marker is None:
                continue
            exercise = marker.kwargs["exercise"]
            if _applies_the_rule(item):
                self.ruled.add(exercise)
                self._rule_checks.add(item.name)
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

    def pytest_runtest_teardown(self, item, nextitem):
        """A check's process ends with the check, so the sandbox forks the next check's while
        pytest reports this one and sets up the next (whose begin_check then finds it asked for)."""
        if self._student is not None and nextitem is not None:
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
            error = call.excinfo.value if call.excinfo is not None else None
            if isinstance(error, ShortcutFound):
                self.outcomes[-1]["shortcut"] = error.sentence  # grader.engine.shortcuts.apply_policy
            if isinstance(error, CheckFailed) and not passed:
                self.outcomes[-1].update(_shown_values(error))

    def add_refused_kernels(self):
        """Torch kernels an exercise with the rule reached while the checks ran (the run-time
        line behind the static rule): a forbidden shortcut, given to the exercise's rule check
        (its first check when the run has none), where the course's policy takes it up. It
        only adds: a check the source already failed keeps its finding."""
        routes = {}
        for exercise, route in self._student.refused_kernels() if self._student is not None else []:
            routes.setdefault(exercise, route)
        for exercise, route in routes.items():
            mine = [o for o in self.outcomes if o["exercise"] == exercise]
            if not mine:
                continue
            outcome = next((o for o in mine if o["id"] in self._rule_checks), mine[0])
            sentence = f"`{exercise}` runs torch's `{route}` when called (found at run time)"
            static = [f for f in checks.uses_any(self._student, exercise) if f.forbidden]
            if static and "shortcut" not in outcome:
                outcome["shortcut"] = static[0].sentence(exercise)
            outcome["refused"] = sentence
            if outcome["status"] == "passed":
                outcome.update(status="failed", score=0.0,
                               output=f"{sentence}: this exercise may not use torch's convolution, pooling or unfold")


def _applies_the_rule(item):
    """The check calls a function that judges the forbidden-shortcut rule (one marked
    `applies_the_rule` in grader.engine.checks: expect_not_used and what builds on it), by
    whatever name the check's module gives it: its exercise has the rule."""
    function = getattr(item, "function", None)
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    names = getattr(function, "__globals__", {})
    return any(getattr(names.get(name), "applies_the_rule", False) is True for name in code.co_names)


def _exercise_of(item):
    marker = item.get_closest_marker("check")
    return marker.kwargs["exercise"] if marker else None


def drawn_order(items, seed):
    """`items` in the order a submission with this seed runs them, drawn from the secret.

    A check process can read counters that grow while a grading runs (clocks, its start
    time, inode numbers); were the order fixed, how late a check runs would say which check
    it is. Modules, and the items within each, are shuffled with HMAC(secret, seed, "order"),
    so the same seed replays the same order and no one without the secret can predict it.
    The items of a module, and of a class, stay together, so fixtures scoped to them are set
    up once.
    """
    draw = random.Random(secret.order_seed(seed))
    modules = {}  # module -> parent (the module or a class) -> items
    for item in items:
        module = item.nodeid.split("::")[0]
        modules.setdefault(module, {}).setdefault(item.parent.nodeid, []).append(item)
    ordered = []
    for parents in _shuffled(draw, modules.values()):
        for siblings in _shuffled(draw, parents.values()):
            ordered.extend(_shuffled(draw, siblings))
    return ordered


def _shuffled(draw, things):
    things = list(things)
    draw.shuffle(things)
    return things


def _shown_values(error):
    """A failed comparison's `expected` and `got` maps and `diagnosis` (grader.engine.checks.
    values_differ), where it has them."""
    return {key: getattr(error, key) for key in ("expected", "got", "diagnosis")
            if getattr(error, key, None) is not None}


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
# No terminal (nothing reads it) and no capture: a session lives as long as the process, and
# pytest's fd capture would hold this process's stdout for as long.
_QUIET = ["-p", "no:cacheprovider", "-p", "no:unraisableexception", "-p", "no:threadexception",
          "-p", "no:faulthandler", "-p", "no:warnings", "-p", "no:logging", "-p", "no:legacypath",
          "-p", "no:junitxml", "-p", "no:doctest", "-p", "no:pastebin", "-p", "no:stepwise",
          "-p", "no:setuponly", "-p", "no:setupplan", "-p", "no:nose", "-p", "no:tmpdir",
          "-p", "no:terminal", "--capture=no",
          "--rootdir", str(assignments.COURSE_DIR), "-o", "addopts=", "-o", "python_files=test_*.py"]


class _Suite:
    """One assignment's hidden suite, collected once per process and run once per submission.

    pytest.main per submission spent about half of a warm grade configuring pytest,
    registering its plugins and collecting the same files again. Instead the session is
    built and collected once, and each run hands every item to pytest's own
    `pytest_runtest_protocol` hook, the way pytest-xdist's workers run the items they are
    sent: setup, call and teardown are pytest's, and the last item (nextitem=None) tears
    the session-scoped fixtures down, so the next submission's `student` is built anew.
    """

    def __init__(self, assignment):
        self.plugin = SuitePlugin()
        args = [str(assignments.suite_dir(assignment)), "--assert=plain", *_QUIET]
        # _prepareconfig is what pytest.main itself calls; pytest has no public way to keep a
        # session between runs.
        self.config = _pytest.config._prepareconfig(args, plugins=[self.plugin, sys.modules[__name__]])
        self.config._do_configure()
        # No traceback text for failed checks: the feedback is the check's own message, and
        # pytest's long form parses the suite's source with ast for every failure (65 ms each).
        # ("--tb" belongs to the terminal plugin, which is off.)
        self.config.option.tbstyle = "no"
        self.session = pytest.Session.from_config(self.config)
        self.config.hook.pytest_sessionstart(session=self.session)
        self.session.perform_collect()
        if self.session.testsfailed:
            raise RuntimeError(f"the hidden suite of {assignment} could not be collected")
        self.items = list(self.session.items)
        self.lock = threading.Lock()  # one run at a time: fixtures and outcomes are per session

    def run(self, student, devices, exercise, seed):
        chosen = [i for i in self.items if exercise is None or _exercise_of(i) == exercise]
        items = drawn_order(chosen, seed)
        with self.lock:
            self.plugin.begin(student, devices, seed)
            if student is not None:
                student.expect_checks(len(items))
            try:
                for item, nextitem in zip(items, items[1:] + [None]):
                    self.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                self.plugin.add_refused_kernels()
            finally:
                self.session._setupstate.teardown_exact(None)  # nothing of this run outlives it
                outcomes, self.plugin.outcomes = self.plugin.outcomes, []
                self.plugin.begin(None, ["cpu"], 0)
        canonical = {self.plugin.checks[i.nodeid]["number"]: n for n, i in enumerate(chosen)
                     if i.nodeid in self.plugin.checks}
        return sorted(outcomes, key=lambda outcome: canonical[outcome["number"]])  # as collected

    def checks(self):
        return [self.plugin.checks[i.nodeid] for i in self.items if i.nodeid in self.plugin.checks]

    def close(self):
        with self.lock:
            self.config.hook.pytest_sessionfinish(session=self.session, exitstatus=0)
            self.config._ensure_unconfigure()


_suites = {}
_suites_lock = threading.Lock()


def _suite(assignment):
    with _suites_lock:
        if assignment not in _suites:
            _suites[assignment] = _Suite(assignment)
        return _suites[assignment]


def forget_suites():
    """Collect every suite again when next used: their files changed (grader.operations.regrade)."""
    with _suites_lock:
        suites = list(_suites.values())
        _suites.clear()
    for suite in suites:
        suite.close()


def run_suite(assignment, student, devices=None, exercise=None, seed=0):
    """Run the hidden suite of `assignment` (or one exercise of it) against `student`."""
    configure_torch()
    return _suite(assignment).run(student, devices or available_devices(), exercise, seed)


def collect_checks(assignment):
    """The checks of an assignment (name, number, exercise, max_score), without running them."""
    return [dict(c) for c in _suite(assignment).checks()]


def exercises(assignment):
    """The exercises the suite grades (the `exercise` of its `@check` markers), as collected:
    the one list of an assignment's exercises (release, the student API table and the tests read it)."""
    return list(dict.fromkeys(c["exercise"] for c in collect_checks(assignment)))


def exercises_with_the_rule(assignment):
    """The exercises a check of which applies the forbidden-shortcut rule (`expect_not_used`)."""
    return set(_suite(assignment).plugin.ruled)


def max_score(assignment):
    return sum(c["max_score"] for c in collect_checks(assignment))
