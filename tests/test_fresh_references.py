"""No reference from the process being judged, no probe a student can tell apart, and
exceptions judged by isinstance.

Where a check compares a student's answer with another answer of the same student (a
composite with its parts, an int argument with the pair), the other answer comes from a
fresh copy of the executed notebook that has not run the judged call: a notebook that
remembers what it returned in the check's own process and replays it earns nothing over the
honest student who makes the same mistake openly. An excuse's probe calls the student exactly
as a real check does, so a notebook that answers differently to the probe gains nothing. And
an exception class the student derives from the one a check expects (`class
ShapeError(ValueError)`) is that exception.

Each notebook is graded through grader.engine.grading.grade in the real sandbox, next to its
honest twin where there is one; all graded with one fixed seed (about a minute each on two
busy cores).
"""

import functools
import re

import pytest

from grader.engine.grading import grade, warm_up
from grader.engine.sandbox import Limits
from submissions import dumps, make_submission, reference_answers

A2 = "a2_padding_stride_channels"
A3 = "a3_output_shapes"
SEED = 20261207  # fixed, so an attack and its twin face the same hidden inputs
LIMITS = Limits(call_seconds=10, program_seconds=30, submission_seconds=120)


@pytest.fixture(scope="module", autouse=True)
def warm_grader():
    warm_up()


@functools.lru_cache(maxsize=None)
def graded(assignment, name):
    answers, added = NOTEBOOKS[name]()
    return grade(make_submission(assignment, answers, added=added), assignment, limits=LIMITS, seed=SEED)


def points(result, exercise):
    return sum(t["score"] for t in result["tests"] if t["exercise"] == exercise)


def max_points(result, exercise):
    return sum(t["max_score"] for t in result["tests"] if t["exercise"] == exercise)


def passed(result, exercise):
    return sorted(t["id"] for t in result["tests"] if t["exercise"] == exercise and t["status"] == "passed")


def assert_no_gain(attack, honest, exercise):
    """The attack earns no more for `exercise` than its honest twin, which must itself lose
    points there (else the comparison proves nothing)."""
    assert points(honest, exercise) < max_points(honest, exercise), dumps(honest)
    gained = sorted(set(passed(attack, exercise)) - set(passed(honest, exercise)))
    assert points(attack, exercise) <= points(honest, exercise), (
        f"{exercise}: the attack earns {points(attack, exercise)}, its honest twin "
        f"{points(honest, exercise)}; checks only the attack passes: {gained}")


# -- the notebooks ---------------------------------------------------------------------

# corr2d_multi_in_out doubles its result, openly (the twin) or while leaving what it returned
# for corr2d_multi_in to replay, channel by channel, when the check asks that part next (the
# attack): the check would then find the composite "right for its own part".
DOUBLED_MULTI_IN_OUT = '''
def corr2d_multi_in_out(X, K):
    out = 2 * torch.stack([corr2d_multi_in(X, k) for k in K], dim=0)
    _REPLAY[:] = [channel.clone() for channel in out]
    return out
'''

REPLAYING_MULTI_IN = '''
_REPLAY = []


def corr2d_multi_in(X, K):
    if _REPLAY:
        return _REPLAY.pop(0)
    return torch.stack([corr2d(x, k) for x, k in zip(X, K)]).sum(dim=0)
'''

HONEST_MULTI_IN = '''
_REPLAY = []


def corr2d_multi_in(X, K):
    return torch.stack([corr2d(x, k) for x, k in zip(X, K)]).sum(dim=0)
'''

# corr2d_padded_strided right for (height, width) pairs and not for ints: an int pads and
# strides nothing (the twin), or the answer to the pair call just made in the same process
# is handed back for the int call that follows it (the attack).
PADDED_STRIDED = '''
_LAST = []


def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    if not isinstance(padding, (tuple, list)) or not isinstance(stride, (tuple, list)):
        if REPLAY and _LAST:
            return _LAST[-1]
        padding = padding if isinstance(padding, (tuple, list)) else (0, 0)
        stride = stride if isinstance(stride, (tuple, list)) else (1, 1)
    p_h, p_w = padding
    s_h, s_w = stride
    H, W = X.shape
    h, w = K.shape
    Xp = torch.zeros((H + 2 * p_h, W + 2 * p_w), dtype=X.dtype, device=X.device)
    Xp[p_h:p_h + H, p_w:p_w + W] = X
    out_h = (H + 2 * p_h - h) // s_h + 1
    out_w = (W + 2 * p_w - w) // s_w + 1
    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            Y[i, j] = (Xp[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum()
    _LAST[:] = [Y]
    return Y
'''

# conv2d_output_shape without the ValueError for a kernel that does not fit (the same in
# both); conv_output_size right, except (the attack) when it is called the way only the old
# excuse's probe called it, with five positional arguments.
UNGUARDED_SHAPE = '''
def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    def pair(v):
        return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))
    n, _, h, w = (int(v) for v in input_shape)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel_size), pair(stride), pair(padding), pair(dilation)
    return (n, int(out_channels), (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
            (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1)
'''

PROBE_DETECTING_SIZE = '''
def conv_output_size(*args, **kwargs):
    if len(args) == 5 and not kwargs:  # only the excuse's probe called it so
        n, k, s, p, d = args
        return (n + 2 * p - d * (k - 1) - 1) // s + 1
    return _conv_output_size(*args, **kwargs)
'''


def _a2(multi_in, multi_in_out=None, padded_strided=None):
    answers = {"corr2d_multi_in": multi_in}
    if multi_in_out is not None:
        answers["corr2d_multi_in_out"] = multi_in_out
    if padded_strided is not None:
        answers["corr2d_padded_strided"] = padded_strided
    return answers, ()


def _a3_probe(detecting):
    reference = reference_answers(A3)
    answers = {"conv2d_output_shape": UNGUARDED_SHAPE}
    if detecting:
        answers["conv_output_size"] = (reference["conv_output_size"].replace(
            "def conv_output_size(", "def _conv_output_size(") + "\n" + PROBE_DETECTING_SIZE)
    return answers, ()


def _a3_shape_error():
    """The reference, raising its own ValueError subclass wherever it raises ValueError."""
    answers = {name: source.replace("raise ValueError(", "raise ShapeError(")
               for name, source in reference_answers(A3).items()}
    assert sum(source.count("ShapeError") for source in answers.values()) >= 8
    added = [("before", "conv_output_size", "class ShapeError(ValueError):\n"
                                            "    \"\"\"Settings no layer can run with.\"\"\"\n")]
    return answers, added


NOTEBOOKS = {
    "replaying_multi_in": lambda: _a2(REPLAYING_MULTI_IN, DOUBLED_MULTI_IN_OUT),
    "honest_doubled_multi_in_out": lambda: _a2(HONEST_MULTI_IN, DOUBLED_MULTI_IN_OUT),
    "replayed_int_arguments": lambda: _a2(HONEST_MULTI_IN, padded_strided="REPLAY = True\n" + PADDED_STRIDED),
    "honest_ints_ignored": lambda: _a2(HONEST_MULTI_IN, padded_strided="REPLAY = False\n" + PADDED_STRIDED),
    "probe_detecting": lambda: _a3_probe(detecting=True),
    "honest_unguarded_shape": lambda: _a3_probe(detecting=False),
    "shape_error": _a3_shape_error,
}


# -- a2: references from a fresh copy --------------------------------------------------

def test_a_composite_replayed_by_its_part_earns_no_more_than_the_open_mistake():
    attack, honest = graded(A2, "replaying_multi_in"), graded(A2, "honest_doubled_multi_in_out")
    assert points(honest, "corr2d_multi_in") == max_points(honest, "corr2d_multi_in"), dumps(honest)
    assert_no_gain(attack, honest, "corr2d_multi_in_out")
    assert points(attack, "corr2d_multi_in") <= points(honest, "corr2d_multi_in")


def test_an_int_answer_replaying_the_pair_earns_no_more_than_ints_ignored():
    attack, honest = graded(A2, "replayed_int_arguments"), graded(A2, "honest_ints_ignored")
    assert "test_padded_strided_int_arguments" not in passed(honest, "corr2d_padded_strided"), dumps(honest)
    assert_no_gain(attack, honest, "corr2d_padded_strided")


# -- a3: a probe is a real check's call ------------------------------------------------

def test_a_probe_detecting_conv_output_size_earns_nothing():
    attack, honest = graded(A3, "probe_detecting"), graded(A3, "honest_unguarded_shape")
    assert "test_shape_kernel_too_large" not in passed(honest, "conv2d_output_shape"), dumps(honest)
    assert_no_gain(attack, honest, "conv2d_output_shape")
    assert points(attack, "conv_output_size") <= points(honest, "conv_output_size")


# -- exceptions by isinstance ----------------------------------------------------------

def test_a_value_error_subclass_is_a_value_error():
    result = graded(A3, "shape_error")
    failed = [(t["name"], t.get("output", "")[:300]) for t in result["tests"] if t["status"] != "passed"]
    assert not failed and result["score"] == result["max_score"], failed or dumps(result)


def test_an_exception_outside_the_expected_class_is_named_with_the_expected_one():
    """A TypeError where torch refuses still fails, and the message names both classes."""
    answers = {name: source.replace("raise ValueError(", "raise TypeError(")
               for name, source in reference_answers(A3).items()}
    result = grade(make_submission(A3, answers), A3, limits=LIMITS, seed=SEED)
    check = next(t for t in result["tests"] if t["id"].endswith("test_conv_kernel_too_large"))
    assert check["status"] == "failed", dumps(result)
    assert re.search(r"raised TypeError.*should be a ValueError.*TypeError is not one", check["output"]), \
        check["output"]


def test_isinstance_is_judged_from_builtin_class_names_only():
    """What the sandbox sends is data: names of builtin exception classes count, anything else
    it names (a module, a function, a class of its own) counts for nothing."""
    from grader.engine.student import StudentError

    def error(*classes, type_name="ShapeError"):
        return StudentError.from_child({"type": type_name, "message": "no", "builtin_classes": list(classes)},
                                       "`f`")

    shape_error = error("ValueError", "Exception", "BaseException")
    assert shape_error.is_a(ValueError) and shape_error.is_a(Exception)
    assert not shape_error.is_a(TypeError) and not shape_error.is_a(KeyError)
    assert error("KeyError", "LookupError", type_name="KeyError").is_a(LookupError)
    assert not error("os", "print", "__import__", "ShapeError", "", "x" * 5000, 7).is_a(BaseException)
    assert not StudentError.from_child({"type": "ValueError", "message": "no"}, "`f`").is_a(ValueError)
    assert "not written yet" in str(error("NotImplementedError", "RuntimeError", type_name="Todo"))
