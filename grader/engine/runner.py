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

    def add_refused_kernels(self, outcomes, students):
        """Torch kernels an exercise with the rule reached while the checks ran (the run-time
        line behind the static rule), in any of `students`' sandboxes: a forbidden shortcut,
        given to the exercise's rule check (its first check when the run has none), where the
        course's policy takes it up. It only adds: a check the source already failed keeps its
        finding."""
        routes = {}
        for student in students:
            for exercise, route in student.refused_kernels():
                routes.setdefault(exercise, route)
        for exercise, route in routes.items():
            mine = [o for o in outcomes if o["exercise"] == exercise]
            if not mine:
                continue
            outcome = next((o for o in mine if o["id"] in self._rule_checks), mine[0])
            sentence = f"`{exercise}` runs torch's `{route}` when called (found at run time)"
            static = [f for f in checks.uses_any(students[0], exercise) if f.forbidden]
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

    def run(self, student, devices, queue, seed):
        """Run checks taken from `queue` (`_Queue`) against `student` until none is left; their
        outcomes. The caller holds `self.lock`."""
        by_id = {item.nodeid: item for item in self.items}
        self.plugin.begin(student, devices, seed)
        try:
            # The check after this one is taken now: pytest keeps what the next item shares
            # with this one set up, so it must be the item this session runs next.
            taken = queue.take()
            while taken is not None:
                following = queue.take()
                student.expect_checks(queue.left() + (2 if following else 1))
                self.config.hook.pytest_runtest_protocol(item=by_id[taken], nextitem=by_id.get(following))
                taken = following
        finally:
            self.session._setupstate.teardown_exact(None)  # nothing of this run outlives it
            outcomes, self.plugin.outcomes = self.plugin.outcomes, []
            self.plugin.begin(None, ["cpu"], 0)
        return outcomes

    def checks(self):
        return [self.plugin.checks[i.nodeid] for i in self.items if i.nodeid in self.plugin.checks]

    def close(self):
        with self.lock:
            self.config.hook.pytest_sessionfinish(session=self.session, exitstatus=0)
            self.config._ensure_unconfigure()


# assignment -> its suites: one per run at once (a split grading runs two, grader.engine.grading)
_suites = {}
_suites_lock = threading.Lock()


def _suite(assignment):
    """The assignment's first suite: what its checks are."""
    with _suites_lock:
        if assignment not in _suites:
            _suites[assignment] = [_Suite(assignment)]
        return _suites[assignment][0]


def _idle_suite(assignment):
    """A suite of the assignment that no other thread runs, its lock held: a second one is
    collected the first time two runs of the assignment overlap."""
    _suite(assignment)
    with _suites_lock:
        for suite in _suites.get(assignment, []):
            if suite.lock.acquire(blocking=False):
                return suite
    suite = _Suite(assignment)  # collected outside the lock: the other run goes on meanwhile
    suite.lock.acquire()
    with _suites_lock:
        _suites.setdefault(assignment, []).append(suite)
    return suite


def forget_suites():
    """Collect every suite again when next used: their files changed (grader.operations.regrade)."""
    with _suites_lock:
        suites = [suite for pool in _suites.values() for suite in pool]
        _suites.clear()
    for suite in suites:
        suite.close()


def run_suite(assignment, student, devices=None, exercise=None, seed=0):
    """Run the hidden suite of `assignment` (or one exercise of it) against `student`; the
    outcomes, in the suite's order.

    `student` may be a list: a Student whose program has run, and others over sandboxes of
    their own (grader.engine.grading splits a grading so where a core is free). Each takes the
    next check of the drawn order as it is free, in a thread and a pytest session of its own;
    one whose program did not run as the first's did (it failed, or other cells raised) takes
    none. Every check runs in a fresh copy of its sandbox's program, so which sandbox ran it
    changes nothing."""
    configure_torch()
    students = list(student) if isinstance(student, (list, tuple)) else [student]
    suite = _suite(assignment)
    chosen = [item for item in suite.items if exercise is None or _exercise_of(item) == exercise]
    queue = _Queue(item.nodeid for item in drawn_order(chosen, seed))
    outcomes = _at_once(assignment, students, queue, devices or available_devices(), seed)
    suite.plugin.add_refused_kernels(outcomes, students)
    canonical = {suite.plugin.checks[item.nodeid]["number"]: n for n, item in enumerate(suite.items)
                 if item.nodeid in suite.plugin.checks}
    return sorted(outcomes, key=lambda outcome: canonical[outcome["number"]])  # as collected


class _Queue:
    """The checks of a run in the drawn order, taken one at a time by each student's thread."""

    def __init__(self, nodeids):
        self._left = list(nodeids)
        self._lock = threading.Lock()

    def take(self):
        """The next check, or None when none is left."""
        with self._lock:
            return self._left.pop(0) if self._left else None

    def left(self):
        return len(self._left)


def _at_once(assignment, students, queue, devices, seed):
    """The outcomes of every student's run, the first in this thread and the others in threads
    of their own (which mostly wait on their sandboxes' processes), each in an idle suite."""
    results = [[] for _ in students]
    program_errors = students[0].program_errors() if len(students) > 1 else None

    def run(n):
        student = students[n]
        if n > 0 and not (student.program_ran() and student.program_errors() == program_errors):
            return
        suite = _idle_suite(assignment)
        try:
            results[n] = suite.run(student, devices, queue, seed)
        except BaseException as exc:  # noqa: BLE001  (raised again in the caller's thread)
            results[n] = exc
        finally:
            suite.lock.release()
    others = [threading.Thread(target=run, args=(n,), name="convgrade-share", daemon=True)
              for n in range(1, len(students))]
    for thread in others:
        thread.start()
    run(0)
    for thread in others:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [outcome for result in results for outcome in result]


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
