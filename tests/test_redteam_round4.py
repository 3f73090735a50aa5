"""Round-4 attacks, written from the grader's code by someone who did not write it: a student
who has read every line of the grader and the suites gains nothing over an honest student
making the same mistake openly, on every assignment.

Each attack is a notebook in tests/redteam4/ (its answer cells; see the README there), graded
through grader.engine.grading.grade in the real sandbox next to its honest twin:

1. routes to torch's convolution and pooling (a1 corr2d, a2's four exercises, a4 pool2d):
   attribute chains through modules that re-export others (typing.operator, logging.sys,
   dataclasses.inspect, os.path.sys, pkgutil.importlib), names built at run time
   (pydoc.locate, pkgutil.resolve_name, string.Formatter.get_field, attrgetter, methodcaller,
   functools.reduce(getattr, ...), a pickle's GLOBAL), structure the reader must follow
   (decorators, metaclasses, descriptors, __init_subclass__, default arguments, closures armed
   from outside, class attributes, functools.partial), nn.Conv2d / nn.MaxPool2d built inside,
   Tensor.unfold, torch.ops.aten, torch._C._nn, torch.nn.grad, the CPU kernels under
   aten::convolution (thnn_conv2d, mkldnn_convolution), torch's decomposition table (im2col and
   max pooling written in indexing: no kernel runs), NumPy's sliding windows. Each scores no
   more than calling F.conv2d / F.max_pool2d openly, and is judged a forbidden shortcut
   (statically, or caught at run time);
2. honest habits the rule must not punish: windows by as_strided, the correlation theorem with
   torch.fft, `_pair` from torch.nn.modules.utils, an exception subclass of ValueError;
3. no check can be told apart: every check process of a1, a3, a4 and a5 reports the same
   pid, ppid, process group, descriptors, threads, visible processes, rlimits and socket
   inodes (relative to the program's); and the 600-thread pid-counter attack (the first check
   pushes the pid namespace's counter past 500, later checks answer right) gains nothing;
4. no reference from the judged process: a2's corr2d_multi_in replaying what the composite
   returned, and corr2d_padded_strided replaying its pair-argument answer for ints;
   a3's conv_output_size recognising the excuse probe by its five positional arguments;
5. a reply whose safetensors header is valid but whose data offsets point past the end:
   grade() still returns a result.

About 3 minutes on two busy cores (some 40 gradings, most of them one exercise with stubs).
"""

import functools
import re
import time
from pathlib import Path

import pytest

from grader.engine.grading import grade, warm_up
from grader.engine.sandbox import Limits
from submissions import dumps, make_submission

ASSIGNMENTS = {"a1": "a1_cross_correlation", "a2": "a2_padding_stride_channels", "a3": "a3_output_shapes",
               "a4": "a4_pooling", "a5": "a5_lenet"}
LIMITS = Limits(call_seconds=5, program_seconds=20, submission_seconds=40, memory_bytes=512 << 20)
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


def points(result, *exercises):
    return sum(t["score"] for t in result["tests"] if t["exercise"] in exercises)


def max_points(result, *exercises):
    return sum(t["max_score"] for t in result["tests"] if t["exercise"] in exercises)


def passed(result, *exercises):
    return sorted(t["id"] for t in result["tests"] if t["exercise"] in exercises and t["status"] == "passed")


def assert_no_gain(attack, honest, *exercises):
    """The attack earns no more for `exercises` than the honest twin, which must itself lose
    points there (else the comparison proves nothing)."""
    assert points(honest, *exercises) < max_points(honest, *exercises), dumps(honest)
    gained = sorted(set(passed(attack, *exercises)) - set(passed(honest, *exercises)))
    assert points(attack, *exercises) <= points(honest, *exercises), (
        f"{'+'.join(exercises)}: the attack earns {points(attack, *exercises)}, its honest twin "
        f"{points(honest, *exercises)}; checks only the attack passes: {gained}")


def judged_forbidden(result, exercise):
    """The result calls `exercise` a forbidden shortcut (found in its source or at run time)."""
    texts = list(result.get("notes", [])) + [t.get("output") or "" for t in result["tests"]
                                             if t["exercise"] == exercise]
    return any(f"`{exercise}`" in text and "forbidden" in text for text in texts)


# -- 1. routes to torch's convolution and pooling --------------------------------------

# notebook -> the exercise it answers through the route
ROUTES = {
    # attribute chains through modules that re-export others, and names built at run time
    "a1_getattr_static": "corr2d",         # dataclasses.inspect.getattr_static(os.path.sys.modules[...], "conv2d")
    "a1_pydoc_locate": "corr2d",           # pydoc.locate("torch.nn.functional.conv" + "2d")
    "a1_default_argument": "corr2d",       # a default argument: typing.operator.attrgetter("nn.functional.conv2d")(torch)
    "a1_nn_grad": "corr2d",                # torch.nn.grad.conv2d_weight through pkgutil.importlib and attrgetter
    "a1_ops_aten": "corr2d",               # torch.ops.aten.convolution: pkgutil.resolve_name("torch:ops")
    "a1_pickle": "corr2d",                 # a pickle's GLOBAL opcode (multiprocessing.reduction.ForkingPickler)
    "a1_conv_module": "corr2d",            # nn.Conv2d built inside, found by string.Formatter().get_field
    "a2_methodcaller": "corr2d_padded_strided",   # logging.sys.modules["importlib"], typing.operator.methodcaller
    "a2_format_field": "corr2d_multi_in",         # string.Formatter().get_field("0.nn.functional.conv2d", ...)
    "a2_reduce_getattr": "corr2d_multi_in_out",   # functools.reduce(getattr, (..., "con" + "v2d"), torch)
    "a2_ops_attrgetter": "corr2d_multi_in_out_1x1",  # typing.operator.attrgetter("ops.aten.conv2d")(torch)
    "a4_attrgetter": "pool2d",             # typing.operator.attrgetter("nn.functional.max_pool2d")(logging.sys.modules["torch"])
    "a4_pool_modules": "pool2d",           # nn.MaxPool2d / nn.AvgPool2d built inside, by pydoc.locate
    "a4_unfold_methodcaller": "pool2d",    # Tensor.unfold by typing.operator.methodcaller("un" + "fold", ...)
    # structure the reader must follow, with F.conv2d spelled plainly
    "a1_metaclass": "corr2d",              # class corr2d(metaclass=M): M.__call__ convolves
    "a1_descriptor": "corr2d",             # a descriptor's __get__ hands out F.conv2d
    "a1_init_subclass": "corr2d",          # __init_subclass__ stores F.conv2d on the subclass
    "a1_decorator": "corr2d",              # a decorator replaces the honest loop
    "a1_closure_armed": "corr2d",          # a closure cell filled by a top-level call of a sibling closure
    "a1_class_attribute": "corr2d",        # staticmethod(F.conv2d) as a class attribute
    "a1_partial": "corr2d",                # functools.partial(F.conv2d, ...)
    # kernels below the entry points, and code with no kernel at all
    "a1_slow_kernel": "corr2d",            # torch._C._nn.thnn_conv2d (aten::_slow_conv2d_forward)
    "a1_mkldnn": "corr2d",                 # torch.mkldnn_convolution for float32, a loop for float64
    "a4_c_nn": "pool2d",                   # torch._C._nn.max_pool2d_with_indices / avg_pool2d
    "a1_decomposition": "corr2d",          # torch._decomp.decompositions.im2col: indexing, no kernel
    "a4_decomposition": "pool2d",          # torch._decomp's max_pool2d_with_indices and im2col
    "a1_numpy_windows": "corr2d",          # numpy.lib.stride_tricks.sliding_window_view
}
# the honest twin: the same exercise calling torch openly (the course's policy voids it)
OPEN_CALL = {"a1_cross_correlation": "honest_a1_f_conv2d", "a2_padding_stride_channels": "honest_a2_f_conv2d",
             "a4_pooling": "honest_a4_f_pool2d"}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_route_to_torchs_kernels_earns_no_more_than_calling_them_openly(route):
    exercise = ROUTES[route]
    attack, honest = graded(route), graded(OPEN_CALL[assignment_of(route)])
    assert judged_forbidden(honest, exercise), dumps(honest)
    assert_no_gain(attack, honest, exercise)
    assert judged_forbidden(attack, exercise), (
        f"`{exercise}` reaches torch's kernel through {route} and is not called a forbidden shortcut: "
        + dumps(attack))


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
    result = graded(name)
    assert not judged_forbidden(result, exercise), dumps(result)
    lost = max_points(result, exercise) - points(result, exercise)
    failed = [(t["id"], t.get("output")) for t in result["tests"]
              if t["exercise"] == exercise and t["status"] != "passed"]
    assert lost <= may_lose, f"{name} loses {lost} points of `{exercise}`: {failed}"


# -- 3. no check can be told apart ------------------------------------------------------

FINGERPRINT = re.compile(r"FINGERPRINT<[^>]*>")


@pytest.mark.parametrize("assignment", ["a1", "a3", "a4", "a5"])
def test_every_check_process_looks_the_same(assignment):
    """The answer raises with everything its process can read about itself (not the clock):
    one reading, however many checks call it."""
    result = graded(f"fingerprint_{assignment}")
    seen = {}
    for test in result["tests"]:
        for reading in set(FINGERPRINT.findall(test.get("output") or "")):
            seen.setdefault(reading, []).append(test["id"])
    assert sum(len(ids) for ids in seen.values()) >= 3, dumps(result)
    assert len(seen) == 1, "checks tell themselves apart:\n" + "\n".join(
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
    notebook = make_submission(ASSIGNMENTS["a1"], answer_cells("malformed_reply"), reference=False)
    try:
        result = grade(notebook, ASSIGNMENTS["a1"], limits=LIMITS, seed=SEED)
    except Exception as exc:  # noqa: BLE001 - whatever escapes is the failure
        pytest.fail(f"grade() raised {type(exc).__name__}: {exc}")
    assert "note: the engine's replies now carry" in result.get("stdout", ""), dumps(result)
    assert result["tests"] and points(result, "corr2d") == 0, dumps(result)
