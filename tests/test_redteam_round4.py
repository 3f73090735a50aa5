"""Round-4 attacks, written from the grader's code by someone who did not write it: a student
who has read every line of the grader and the suites gains nothing over an honest student
making the same mistake openly, on every assignment.

Each attack is a notebook in tests/redteam4/ (its answer cells; see the README there), graded
through grader.engine.grading.grade in the real sandbox next to its honest twin:

1. 44 routes to torch's convolution and pooling (a1 corr2d, a2's four exercises with one
   route each, a4 pool2d; 19 of them, one grading each, marked slow): attribute chains
   through modules that re-export others (typing.operator, logging.sys, dataclasses.inspect,
   os.path.sys, pkgutil.importlib, timeit.gc, dataclasses.builtins); names resolved at run
   time (pydoc.locate, pkgutil.resolve_name, logging.config's resolve,
   string.Formatter.get_field, attrgetter, methodcaller, functools.reduce(getattr, ...), a
   pickle's GLOBAL, annotations evaluated by typing.get_type_hints and inspect.signature);
   structure the reader must follow (decorators, metaclasses, descriptors,
   __init_subclass__, default arguments, closures armed from outside, class attributes,
   functools.partial); nn.Conv2d / nn.MaxPool2d built inside, Tensor.unfold, torch.ops.aten,
   torch._C._nn, torch.nn.grad, F.interpolate's area mode, the CPU kernels under
   aten::convolution (thnn_conv2d); torch's decomposition table (im2col and max pooling
   written in indexing: no kernel runs); NumPy's windows and correlate; and the grader's
   second line at run time bypassed (a thread; tensors in oneDNN's layout, whose backend has
   kernels of its own; the dispatch key a guard sits on excluded, in a custom autograd
   Function's forward and backward), silenced (the guard found by gc, disarmed and
   uninstalled, its Library destroyed, mode stacks popped) or its record erased. Each scores no more than calling F.conv2d / F.max_pool2d openly, and is
   judged a forbidden shortcut for its own code (statically, or caught at run time);
2. honest habits the rule must not punish: windows by as_strided, the correlation theorem with
   torch.fft, `_pair` from torch.nn.modules.utils, an exception subclass of ValueError;
3. no check can be told apart: every check process of a3, a4 and a5 reports the same pid,
   ppid, process group, session, descriptors, threads, visible processes and rlimits (pipe and
   socket inode numbers, a machine-wide counter, only say how late a check runs, and the checks
   run in an order drawn from the secret); the 600-thread pid-counter attack (the
   first check pushes the pid namespace's counter past 500, later checks answer right) gains
   nothing;
4. no reference from the judged process: a2's corr2d_multi_in replaying what the composite
   returned, corr2d_padded_strided replaying its pair-argument answer for ints, a3's
   conv_output_size recognising the excuse probe by its five positional arguments;
5. the program's process sending, through the engine's own framing, a reply whose safetensors
   header is valid but whose data offsets point past the end: grade() still returns a result
   (a malformed reply from a check process was always a failed check; tests/test_wire.py forges
   the frame on the socket itself);
6. the modules a notebook names are not imported by the grading process to resolve them.

About 4 minutes on two busy cores (some 30 gradings); the slow routes add about 3.
"""

import functools
import re
import sys
import time
from pathlib import Path

import pytest

from grader.engine.grading import grade, warm_up
from grader.engine.sandbox import Limits
from submissions import dumps, make_submission

ASSIGNMENTS = {"a1": "a1_cross_correlation", "a2": "a2_padding_stride_channels", "a3": "a3_output_shapes",
               "a4": "a4_pooling", "a5": "a5_lenet"}
# generous on time: a3's demonstration cells take a minute on a loaded machine, and a notebook
# that never ran proves nothing (ran() refuses it)
LIMITS = Limits(call_seconds=5, program_seconds=60, submission_seconds=120, memory_bytes=512 << 20)
ATTACKS = Path(__file__).parent / "redteam4"
SEED = 20261207  # fixed, so an attack and its twin face the same hidden inputs


@pytest.fixture(scope="module", autouse=True)
def warm_grader():
    """The zygote's start (torch and the suites imported once) is not an attack's time."""
    warm_up()


# -- notebooks ---------------------------------------------------------------------

def assignment_of(name):
    """The assignment a notebook file answers: the `aN` word in its name."""
    return ASSIGNMENTS[next(word for word in name.split("_") if word in ASSIGNMENTS)]


def answer_cells(name):
    """{grade_id: source} of tests/redteam4/<name>.py, its `# include:` files pasted in."""
    text = _with_includes((ATTACKS / f"{name}.py").read_text())
    cells = {}
    for match in re.finditer(r"^# cell: (\S+)\n(.*?)(?=^# cell: |\Z)", text, re.MULTILINE | re.DOTALL):
        cells[match.group(1)] = cells.get(match.group(1), "") + match.group(2)
    if not cells:
        raise ValueError(f"{name}: no '# cell: <grade_id>' section")
    return cells


def _with_includes(text):
    return re.sub(r"^# include: (\S+)\n",
                  lambda m: _with_includes((ATTACKS / f"{m.group(1)}.py").read_text()) + "\n",
                  text, flags=re.MULTILINE)


@functools.lru_cache(maxsize=None)
def graded(name, reference=False):
    """The result of grading notebook `name` (the released stubs, or with reference=True the
    reference solution, in the cells it does not answer); each notebook is graded once."""
    assignment = assignment_of(name)
    notebook = make_submission(assignment, answer_cells(name), reference=reference)
    started = time.monotonic()
    result = grade(notebook, assignment, limits=LIMITS, seed=SEED)
    assert time.monotonic() - started < LIMITS.submission_seconds + 20, dumps(result)
    return result


def ran(result):
    """The notebook's program ran, so its checks judged the answers (else a comparison of two
    results proves nothing)."""
    stopped = [t["output"] for t in result["tests"] if "could not be run" in (t.get("output") or "")]
    assert not stopped, f"{result['assignment']}: {stopped[0]}"
    return result


def points(result, *exercises):
    return sum(t["score"] for t in result["tests"] if t["exercise"] in exercises)


def max_points(result, *exercises):
    return sum(t["max_score"] for t in result["tests"] if t["exercise"] in exercises)


def passed(result, *exercises):
    return sorted(t["id"] for t in result["tests"] if t["exercise"] in exercises and t["status"] == "passed")


def assert_no_gain(attack, honest, *exercises):
    """The attack earns no more for `exercises` than the honest twin, which must itself lose
    points there (else the comparison proves nothing)."""
    ran(attack), ran(honest)
    assert points(honest, *exercises) < max_points(honest, *exercises), dumps(honest)
    gained = sorted(set(passed(attack, *exercises)) - set(passed(honest, *exercises)))
    assert points(attack, *exercises) <= points(honest, *exercises), (
        f"{'+'.join(exercises)}: the attack earns {points(attack, *exercises)}, its honest twin "
        f"{points(honest, *exercises)}; checks only the attack passes: {gained}")


def judged_forbidden(result, exercise, not_for=()):
    """The result calls `exercise` a forbidden shortcut (found in its source or at run time),
    for a reason that names none of the cells in `not_for` (another route's cell in the same
    notebook: a finding there must not stand in for one here)."""
    texts = list(result.get("notes", [])) + [t.get("output") or "" for t in result["tests"]
                                             if t["exercise"] == exercise]
    return any(f"`{exercise}`" in text and "forbidden" in text
               and not any(f"({other}, line" in text for other in not_for) for text in texts)


# -- 1. routes to torch's convolution and pooling --------------------------------------

PS, MI, MIO, ONE = "corr2d_padded_strided", "corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1"
# notebook -> {exercise: the route it takes}; a2's notebooks take one route per exercise, each
# written in that exercise's own cell, and none reaches what the rule counts against every
# exercise of a program (sys.modules, gc, builtins): a finding for one exercise that names
# another route's cell proves nothing for it (judged_forbidden)
ROUTES = {
    "a2_chains": {  # attribute chains through modules that re-export others, names built at run time
        PS: "typing.operator.methodcaller('conv' + '2d', ...)(F)",
        MI: "string.Formatter().get_field('0.nn.functional.conv2d', (torch,), {})",
        MIO: "functools.reduce(getattr, ('nn', 'functional', 'con' + 'v2d'), torch)",
        ONE: "dataclasses.inspect.getattr_static(F, 'conv' + '2d')"},
    "a2_structure": {  # structure the reader must follow, F.conv2d spelled plainly
        PS: "a decorator replaces the function", MI: "a metaclass's __call__",
        MIO: "a descriptor's __get__ hands out F.conv2d", ONE: "__init_subclass__ stores F.conv2d"},
    "a2_values": {  # the function held in a value
        PS: "a default argument (typing.operator.attrgetter)", MI: "a class attribute (staticmethod)",
        MIO: "a closure cell filled by a top-level call of its sibling", ONE: "functools.partial(F.conv2d)"},
    "a2_names": {  # names resolved by library code at run time
        PS: "pydoc.locate", MI: "logging.config.BaseConfigurator.resolve",
        MIO: "typing.get_type_hints of the annotation 'F.conv2d'", ONE: "a pickle's GLOBAL (ForkingPickler.loads)"},
    # the three spellings
    "a1_getattr_static": {"corr2d": "dataclasses.inspect.getattr_static(os.path.sys.modules['torch.nn.functional'], 'conv2d')"},
    "a1_format_field": {"corr2d": "string.Formatter().get_field('0.nn.functional.conv2d', (logging.sys.modules['torch'],), {})"},
    "a4_attrgetter": {"pool2d": "typing.operator.attrgetter('nn.functional.max_pool2d')(logging.sys.modules['torch'])"},
    # below the second line, and kernels it does not replace
    "a1_key_excluded": {"corr2d": "ADInplaceOrView excluded (ExcludeDispatchKeyGuard) in forward and backward"},
    "a1_decomposition": {"corr2d": "torch._decomp.decompositions.im2col (pkgutil.resolve_name): indexing, no kernel"},
    "a4_config_decomposition": {"pool2d": "torch._decomp's pooling, found by logging.config's resolve: no kernel"},
    "a1_mkldnn_layout": {"corr2d": "X in oneDNN's layout: F.conv2d on the MkldnnCPU backend"},
    "a4_mkldnn_layout": {"pool2d": "X in oneDNN's layout: F.max_pool2d / F.avg_pool2d on the MkldnnCPU backend"},
    "a1_numpy_correlate": {"corr2d": "numpy.correlate row by row, numpy found by logging.config's resolve"},
}
# one grading each (a finding they make counts for every exercise of a notebook, or they are
# the only exercise with the rule): marked slow, the routes above cover each class
SLOW_ROUTES = {
    "a1_importlib_methodcaller": {"corr2d": "logging.sys.modules['importlib'].import_module, typing.operator.methodcaller"},
    "a1_timeit_gc": {"corr2d": "timeit.gc.get_objects()"},
    "a1_builtins_eval": {"corr2d": "dataclasses.builtins.eval('F.con' + 'v2d')"},
    "a1_pkgutil_importlib": {"corr2d": "pkgutil.importlib.import_module(...).__getattribute__('conv' + '2d')"},
    "a1_conv_module": {"corr2d": "nn.Conv2d built inside (string.Formatter().get_field), its weight swapped for K"},
    "a1_nn_grad": {"corr2d": "torch.nn.grad.conv2d_weight through pkgutil.importlib and attrgetter"},
    "a1_ops_aten": {"corr2d": "torch.ops.aten.convolution from pkgutil.resolve_name('torch:ops')"},
    "a1_slow_kernel": {"corr2d": "torch._C._nn.thnn_conv2d (aten::_slow_conv2d_forward)"},
    "a1_numpy_windows": {"corr2d": "numpy.lib.stride_tricks.sliding_window_view"},
    "a4_pool_modules": {"pool2d": "nn.MaxPool2d / nn.AvgPool2d built inside, by pydoc.locate"},
    "a4_unfold_methodcaller": {"pool2d": "Tensor.unfold by typing.operator.methodcaller('un' + 'fold')"},
    "a4_c_nn": {"pool2d": "torch._C._nn.max_pool2d_with_indices / avg_pool2d"},
    "a4_decomposition": {"pool2d": "torch._decomp's max_pool2d_with_indices and im2col (pkgutil.resolve_name)"},
    "a4_type_hints_decomposition": {"pool2d": "inspect.signature(eval_str=True) naming torch._decomp's pooling"},
    "a4_interpolate_area": {"pool2d": "F.interpolate(mode='area') (adaptive average pooling) where tiles divide"},
    # the run-time line (a guard at torch's dispatcher) bypassed, silenced, erased: one route
    # per notebook, since silencing and erasing need gc and vars (counted against every
    # exercise) and would stand in for the bypasses' own findings
    "a2_second_line_thread": {PS: "the convolution in a thread of its own"},
    "a2_second_line_below_key": {ONE: "torch._C._AutoDispatchBelowADInplaceOrView: below the key a noting kernel sits on"},
    "a2_second_line_silenced": {MI: "the guard found by gc: disarmed, uninstalled, its Library destroyed, mode stacks popped"},
    "a2_second_line_erased": {MIO: "torch's convolution, then every noted route erased (gc)"},
}
# the honest twin: the same exercises calling torch openly (the course's policy voids them)
OPEN_CALL = {"a1_cross_correlation": "honest_a1_f_conv2d", "a2_padding_stride_channels": "honest_a2_f_conv2d",
             "a4_pooling": "honest_a4_f_pool2d"}
ROUTE_CASES = [pytest.param(notebook, exercise, id=f"{notebook}-{exercise}",
                            marks=[pytest.mark.slow] if notebook in SLOW_ROUTES else [])
               for notebook, routes in {**ROUTES, **SLOW_ROUTES}.items() for exercise in routes]


@pytest.mark.parametrize("notebook, exercise", ROUTE_CASES)
def test_a_route_to_torchs_kernels_earns_no_more_than_calling_them_openly(notebook, exercise):
    attack, honest = graded(notebook), graded(OPEN_CALL[assignment_of(notebook)])
    assert judged_forbidden(honest, exercise), dumps(honest)
    assert_no_gain(attack, honest, exercise)
    routes = {**ROUTES, **SLOW_ROUTES}[notebook]
    others = [e for e in routes if e != exercise]
    assert judged_forbidden(attack, exercise, not_for=others), (
        f"`{exercise}` reaches torch's kernel ({routes[exercise]}) and is not called a "
        "forbidden shortcut for its own code: " + dumps(attack))


# -- 2. honest habits -------------------------------------------------------------------

# notebook -> (exercise, the most points it may lose: what no rule of the notebook forbids
# earns full marks; an unlisted helper costs at most the one "computes it itself" check)
HONEST_HABITS = {
    "fair_a1_as_strided": ("corr2d", 0),          # windows as a strided view: on the list
    "fair_a1_fft": ("corr2d", 1),                 # the correlation theorem: no window, no kernel of torch's
    "fair_a2_pair_helper": ("corr2d_padded_strided", 0),  # `_pair`, which the issue puts on the list
    "fair_a3_exception_subclass": ("conv_output_size", 0),  # class ShapeError(ValueError)
}


@pytest.mark.parametrize("name", sorted(HONEST_HABITS))
def test_an_honest_habit_costs_at_most_its_one_check(name):
    exercise, may_lose = HONEST_HABITS[name]
    result = ran(graded(name, reference=name.startswith("fair_a3")))
    assert not judged_forbidden(result, exercise), dumps(result)
    lost = max_points(result, exercise) - points(result, exercise)
    failed = [(t["id"], t.get("output")) for t in result["tests"]
              if t["exercise"] == exercise and t["status"] != "passed"]
    assert lost <= may_lose, f"{name} loses {lost} points of `{exercise}`: {failed}"


# -- 3. no check can be told apart ------------------------------------------------------

FINGERPRINT = re.compile(r"FINGERPRINT<[^>]*>")


@pytest.mark.parametrize("assignment", ["a3", "a4", "a5"])
def test_every_check_process_looks_the_same(assignment):
    """The answer raises with everything its process can read about itself (not the clock, nor
    socket and pipe inode numbers: machine-wide counters that tell how late a check runs, which
    the drawn order of the checks makes meaningless, as tests/test_check_identity.py's lateness
    attack shows): one reading, however many checks call it."""
    # a3's demonstration cells loop long on stubs that raise: its other answers are the reference
    result = ran(graded(f"fingerprint_{assignment}", reference=assignment == "a3"))
    seen = {}
    for test in result["tests"]:
        for reading in set(FINGERPRINT.findall(test.get("output") or "")):
            seen.setdefault(reading, []).append(test["id"])
    assert sum(len(ids) for ids in seen.values()) >= 3, dumps(result)
    fields = [dict(re.findall(r"(\w+)=(\S+?)(?= \w+=|>)", reading)) for reading in seen]
    differ = sorted({key for reading in fields for key in reading if reading[key] != fields[0].get(key)})
    assert differ in ([], ["inodes"]), f"checks tell themselves apart by {differ}:\n" + "\n".join(
        f"{reading} in {ids}" for reading, ids in seen.items())


def test_the_pid_counter_attack_earns_nothing():
    """The first check starts and joins 600 threads; a check whose pid is over 500 answers right.
    The honest twin starts the same threads and makes the mistake in every check."""
    assert_no_gain(graded("a4_pid_counter"), graded("honest_a4_threads"), "pool2d")


# -- 4. no reference from the judged process --------------------------------------------

@pytest.mark.parametrize("exercises", [("corr2d_padded_strided",), ("corr2d_multi_in", "corr2d_multi_in_out")])
def test_a_replayed_answer_is_no_reference(exercises):
    assert_no_gain(graded("a2_echo", reference=True), graded("honest_a2_echo", reference=True), *exercises)


def test_the_excuse_probe_cannot_be_told_from_a_check():
    exercises = ("conv_output_size", "conv2d_output_shape")
    assert_no_gain(graded("a3_probe_detected", reference=True), graded("honest_a3_unguarded", reference=True),
                   *exercises)


# -- 5. the wire ------------------------------------------------------------------------

def test_a_reply_with_offsets_past_the_end_still_yields_a_result():
    """The program's process sends its reply through the engine's own framing, corrupted: a
    safetensors blob with data offsets past the end. grade() returns a result that says the
    reply was refused (tests/test_wire.py forges the frame on the socket instead)."""
    notebook = make_submission(ASSIGNMENTS["a1"], answer_cells("malformed_reply"), reference=False)
    try:
        result = grade(notebook, ASSIGNMENTS["a1"], limits=LIMITS, seed=SEED)
    except Exception as exc:  # noqa: BLE001 - whatever escapes is the failure
        pytest.fail(f"grade() raised {type(exc).__name__}: {exc}")
    outputs = [t.get("output") or "" for t in result["tests"]]
    assert outputs and result["score"] == 0, dumps(result)
    assert all("the message's tensors could not be read" in o for o in outputs), dumps(result)


# -- 6. the trusted side and what the source names ---------------------------------------

def imported_while_grading(name):
    """Modules the grading process (this one) imported while it graded notebook `name`."""
    graded(OPEN_CALL["a1_cross_correlation"])  # what any grading imports is imported
    before = set(sys.modules)
    grade(make_submission(assignment_of(name), answer_cells(name), reference=False), assignment_of(name),
          limits=LIMITS, seed=SEED)
    return sorted(set(sys.modules) - before)


@pytest.mark.parametrize("name", ["a1_names_modules", "a1_names_modules_and_runs"])
def test_the_modules_a_notebook_names_are_not_imported_by_the_grader(name):
    """A rule that resolves names by importing them would run, in the process that makes every
    verdict, whatever a named module does on import (torch._dynamo alone: 461 modules). The
    second notebook's answer runs and is right, so the checks that read its source after
    running it reach those names too."""
    imported = imported_while_grading(name)
    named = [m for m in imported if m in ("this", "__hello__") or m.startswith(("torch._inductor", "torch._dynamo"))]
    assert not named, f"the grading process imported {named} (and {len(imported)} modules in all)"
