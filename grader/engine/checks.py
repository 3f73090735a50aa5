"""What the hidden suites are written with: the `check` marker and assertions whose
failure messages a student can act on.

    @check("corr2d", points=2, name="corr2d matches torch on random inputs")
    def test_random(student, seed, devices):
        gen = rng(seed, "test_random")
        for device in devices:
            X = torch.randn(5, 7, generator=gen).to(device)
            K = torch.randn(2, 3, generator=gen).to(device)
            expect_values(student.corr2d(X, K), F.conv2d(X[None, None], K[None, None])[0, 0],
                          "corr2d", inputs(X=X, K=K))

Every helper raises `CheckFailed` (an AssertionError) with a message that says what was
expected, what came back, and on which input: small inputs shown in full (4 significant
digits, `describe`), larger ones summarised, so hidden inputs are never dumped.

A check judges one thing, so that one mistake costs one check: the value checks
(`expect_values`) judge shape and values only, whatever the dtype and device;
`expect_keeps_dtype_device` judges those alone, in a check of its own.
"""

import math
import numbers
import random

import pytest
import torch

from grader.engine import diagnoses, shortcuts
from grader.engine.secret import input_seed
from grader.engine.student import StudentError, plain_tensor, rounded_values

SHOW_VALUES_UP_TO = 16

# numpy scalars, should one reach the trusted side as an object: what to return instead
NUMPY_SCALARS = {**{name: "return a Python int, e.g. int(x)" for name in
                    ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "intc", "intp")},
                 **{name: "return a Python float, e.g. float(x)" for name in
                    ("float16", "float32", "float64", "longdouble")},
                 "bool_": "return a Python bool, e.g. bool(x)"}


PICTURE_UP_TO = 400  # entries of a 2-D map carried as `expected` / `got` (a 20 x 20 map)


class CheckFailed(AssertionError):
    """A check's failure: its message, and for a comparison of values the pictures of the
    expected and returned maps (`picture`, only for inputs the student saw) and the known
    mistake the returned values fit (grader.engine.diagnoses), each None where there is none."""

    def __init__(self, message, expected=None, got=None, diagnosis=None):
        super().__init__(message)
        self.expected = expected
        self.got = got
        self.diagnosis = diagnosis


def check(exercise, points, name):
    """Mark a test as one graded check of `exercise`, worth `points`."""
    return pytest.mark.check(exercise=exercise, points=points, name=name)


def fail(message):
    raise CheckFailed(message)


def default_tolerance(dtype):
    """torch.testing.assert_close's defaults, slightly widened for float32 (see comment)."""
    if dtype == torch.float64:
        return {"rtol": 1e-7, "atol": 1e-7}
    if dtype in (torch.float16, torch.bfloat16):
        return {"rtol": 1e-2, "atol": 1e-2}
    # A student's loop adds the products in another order than torch's kernels do; in
    # float32 the sums of a few hundred terms differ by a few ulps more than
    # assert_close's 1.3e-6 / 1e-5 allow, which is rounding, not a mistake.
    return {"rtol": 1e-5, "atol": 1e-5}


def describe(value, values_only=False):
    """A short description of any value, for a failure message: the one way a tensor is shown.
    A tensor is its dtype, shape and device, and its values to 4 significant digits when it has
    at most SHOW_VALUES_UP_TO of them; `values_only`: those values alone (`[[1.426, -1]]`), or
    `of shape (5, 7)` for a larger tensor."""
    if isinstance(value, torch.Tensor):
        shape = tuple(int(s) for s in value.shape)
        if values_only:
            return str(rounded_values(value)) if value.numel() <= SHOW_VALUES_UP_TO else f"of shape {shape}"
        text = f"a {_dtype(value)} tensor of shape {shape} on {value.device}"
        if value.numel() <= SHOW_VALUES_UP_TO:
            text += f" = {rounded_values(value)}"
        return text
    if type(value).__name__ == "RemoteObject":
        hint = NUMPY_SCALARS.get(value.type_name)
        if hint:
            return f"a numpy {value.type_name} ({hint})"
        return f"an object of type {value.type_name}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 80 else text[:77] + '...'}"


def shape_text(shape):
    """(5, 7): a shape as a plain tuple of ints."""
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


class Inputs(str):
    """The text of a call's inputs (`inputs`), holding the values behind it: `values`, by name,
    for the known mistakes to recompute (grader.engine.diagnoses), and `shown`: whether the
    student saw every one of them in full, in the message or in the course's notebook, so
    that the expected and returned values may be shown as well."""

    def __new__(cls, text, values, shown):
        self = super().__new__(cls, text)
        self.values = values
        self.shown = shown
        return self

    def worded(self, text):
        """The same inputs described in other words (a check's own phrasing of the call)."""
        return Inputs(text, self.values, self.shown)


def inputs(**named):
    """'X of shape (5, 7), K = [[1, -1]] (float32 on cpu)': a call's inputs, small ones rounded."""
    shown = all(not isinstance(v, torch.Tensor) or v.numel() <= SHOW_VALUES_UP_TO for v in named.values())
    return Inputs(_inputs_text(named), named, shown)


def worked_example(**named):
    """`inputs` for a fixed worked example of the course: the student has its values in the
    notebook, so its expected and returned values may be shown whatever their size."""
    return Inputs(_inputs_text(named), named, True)


def _inputs_text(named):
    parts = []
    for name, value in named.items():
        if isinstance(value, torch.Tensor):
            shown = describe(value, values_only=True)
            parts.append(f"{name} {shown}" if value.numel() > SHOW_VALUES_UP_TO else f"{name} = {shown}")
        else:
            parts.append(f"{name}={value!r}")
    device = next((v.device for v in named.values() if isinstance(v, torch.Tensor)), None)
    dtype = next((v.dtype for v in named.values() if isinstance(v, torch.Tensor)), None)
    suffix = f" ({str(dtype).replace('torch.', '')} on {device})" if device is not None else ""
    return ", ".join(parts) + suffix


def expect_tensor(value, what):
    if not isinstance(value, torch.Tensor) or not plain_tensor(value):
        fail(f"{what} should return a torch.Tensor, but returned {describe(value)}")
    return value


def expect_close(actual, expected, what, on, rtol=None, atol=None, check_dtype=True, mistakes=()):
    """`actual` equals torch's `expected`: type, device, dtype, shape, then values, at the
    tolerance of `expected`'s dtype (or `rtol` / `atol`). `mistakes`
    (grader.engine.diagnoses.Mistake) are the known mistakes whose values a failure on shape
    or values is compared with; they need `on` to be `inputs(...)`.

    For a check whose one point is the whole result (a network's forward, a gradient).
    Where dtype and device have a check of their own, use `expect_values` and
    `expect_keeps_dtype_device` instead: a wrong dtype then costs that check alone."""
    expect_tensor(actual, what)
    where = f" for {on}" if on else ""
    if actual.device != expected.device:
        fail(f"{what} returned a tensor on {actual.device}{where}; it should stay on the "
             f"input's device, {expected.device} (create new tensors with device=X.device)")
    if check_dtype and actual.dtype != expected.dtype:
        fail(f"{what} returned a {_dtype(actual)} tensor{where}; expected {_dtype(expected)}, "
             "the dtype of the input (create new tensors with dtype=X.dtype)")
    tolerance = default_tolerance(expected.dtype)
    tolerance.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    if actual.shape != expected.shape:
        values_differ(f"{what} returned shape {tuple(actual.shape)}{where}; expected {tuple(expected.shape)}",
                      actual, expected, on, tolerance, mistakes)
    actual = actual.to(expected.dtype)
    close = agree(actual, expected, **tolerance)
    if not bool(close.all()):
        values_differ(f"{what} returned wrong values{where}: {first_difference(actual, expected, close)}",
                      actual, expected, on, tolerance, mistakes)


def tolerance(*dtypes):
    """The loosest of `default_tolerance` over `dtypes`."""
    tol = {"rtol": 0.0, "atol": 0.0}
    for dtype in dtypes:
        for key, value in default_tolerance(dtype).items():
            tol[key] = max(tol[key], value)
    return tol


def close(actual, expected, extra_dtypes=()):
    """Shape and values agree (any dtype, any device), at the looser tolerance of the dtypes."""
    if not isinstance(actual, torch.Tensor) or tuple(actual.shape) != tuple(expected.shape):
        return False
    a = actual.detach().cpu().to(torch.float64)
    e = expected.detach().cpu().to(torch.float64)
    return bool(agree(a, e, **tolerance(actual.dtype, expected.dtype, *extra_dtypes)).all())


def expect_values(actual, expected, what, on, mistakes=(), extra_dtypes=()):
    """`actual` is a tensor with `expected`'s shape and values, whatever its dtype and device
    (compared on the CPU, at the looser tolerance of the dtypes): those are
    `expect_keeps_dtype_device`'s business. `mistakes` (grader.engine.diagnoses.Mistake): the
    known mistakes a failure is compared with; they need `on` to be `inputs(...)`."""
    expect_tensor(actual, what)
    where = f" for {on}" if on else ""
    tol = tolerance(actual.dtype, expected.dtype, *extra_dtypes)
    if tuple(actual.shape) != tuple(expected.shape):
        values_differ(f"{what} returned shape {tuple(actual.shape)}{where}; expected {tuple(expected.shape)}",
                      actual, expected, on, tol, mistakes)
    a = actual.detach().cpu().to(torch.float64)
    e = expected.detach().cpu().to(torch.float64)
    ok = agree(a, e, **tol)
    if not bool(ok.all()):
        values_differ(f"{what} returned wrong values{where}: {first_difference(a, e, ok)}",
                      a, e, on, tol, mistakes)


def expect_keeps_dtype_device(out, like, what, on, hint="", dtype=True, device=True):
    """`out` is a tensor with the dtype and the device type of `like` (the input it was computed
    from); shape and values are the value checks' business. `hint`: what to do about it.
    `dtype=False` or `device=False` leaves that one to a check of its own."""
    expect_tensor(out, what)
    judged = [name for name, judge in (("dtype", dtype), ("device", device)) if judge]
    kept = {"dtype": out.dtype == like.dtype, "device": out.device.type == like.device.type}
    if all(kept[name] for name in judged):
        return
    where = f" for {on}" if on else ""
    fail(f"{what} returned a {_dtype(out)} tensor on {out.device}{where}; expected {_dtype(like)} on "
         f"{like.device}, the input's {' and '.join(judged)}" + (f": {hint}" if hint else ""))


def expect_ints_like_pairs(int_out, pair_out, expected, what, on):
    """A call with an int where a (height, width) pair may go (`int_out`) agrees with the
    student's own answer for the pair (`pair_out`, taken from `student.fresh()`, which has not
    run the int call), so that only the handling of ints is judged: the values are the other
    checks' business. Where the pair's answer is no finite tensor or differs, the int call is
    judged against torch's `expected` instead."""
    if isinstance(pair_out, torch.Tensor) and bool(torch.isfinite(pair_out).all()) \
            and close(int_out, pair_out):
        return
    expect_values(int_out, expected, what, on)


NO_GRAPH_HINT = ("build the output from tensor operations on the inputs (for example write "
                 "`(X[i:i + h, j:j + w] * K).sum()` into a tensor made with torch.zeros); do not use "
                 ".item(), .tolist(), .data, .detach(), torch.tensor(...) of computed values, or NumPy")


def call_with_backward(student, name, args, G, what, kwargs=None):
    """student.run(name, *args, backward=G), with a clear message when no graph was built."""
    try:
        return student.run(name, *args, backward=G, **(kwargs or {}))
    except StudentError as error:
        text = str(error)
        if "does not require grad" in text or "does not have a grad_fn" in text:
            fail(f"{what}'s output is not connected to its inputs in the autograd graph, so no "
                 f"gradient can flow back: {NO_GRAPH_HINT}")
        raise


def expect_gradients(student, name, args, reference, what, on, gen, kwargs=None,
                     arg_names=("X", "K", "third argument")):
    """Gradients of sum(G * name(*args)) w.r.t. every tensor in args, for an exercise that is
    linear in each of its tensor arguments (a cross-correlation, a convolution).

    `reference(*args)` is torch's version. When the student's forward (the output of the call
    that computed the gradients) agrees with it, the gradients must agree with torch's;
    otherwise (another check reports that) they must at least exist and be the gradients of
    what that call computed, by Euler's identity for a function linear in each argument:
    sum(G * f(X, K)) = sum(X * dL/dX) = sum(K * dL/dK) with L = sum(G * f(X, K)).
    """
    args = [a.detach().clone().requires_grad_(True) for a in args]
    kwargs = kwargs or {}
    out = expect_tensor(student.run(name, *args, **kwargs).result, what)
    expected = reference(*args)
    G = torch.randn(tuple(out.shape), generator=gen, dtype=torch.float64).to(
        dtype=out.dtype, device=out.device)
    reply = call_with_backward(student, name, args, G, what, kwargs)
    # the gradients are judged with the output of the same call, never one an earlier call gave
    out = expect_tensor(reply.result, what)
    if tuple(out.shape) != tuple(G.shape):
        fail(f"{what} returned outputs of shapes {tuple(G.shape)} and {tuple(out.shape)} for the same inputs"
             f"{' (' + on + ')' if on else ''}")
    grads = list(reply.input_grads or [])
    names = [arg_names[i] if i < len(arg_names) else f"argument {i + 1}" for i in range(len(args))]
    for i, arg in enumerate(args):
        grad = grads[i] if i < len(grads) else None
        if grad is None:
            fail(f"no gradient reached {names[i]} through {what}{' for ' + on if on else ''}: "
                 f"{NO_GRAPH_HINT}")
        expect_tensor(grad, f"the gradient of {names[i]}")
        if tuple(grad.shape) != tuple(arg.shape):
            fail(f"the gradient of {names[i]} has shape {tuple(grad.shape)}, expected {tuple(arg.shape)}")
    if close(out, expected):
        torch.autograd.backward(expected, G.to(dtype=expected.dtype, device=expected.device))
        for i, arg in enumerate(args):
            expect_values(grads[i], arg.grad, f"the gradient of {names[i]} through {what}", on,
                          extra_dtypes=(out.dtype,))
        return
    # The forward differs from torch (other checks say how); judge the gradients of what it
    # computed. Only a finite output that is not all zeros can vouch for them (the identity
    # holds trivially for an output of zeros).
    values = out.detach().cpu().double()
    if not bool(torch.isfinite(values).all()) or not bool((values != 0).any()):
        fail(f"{what} returned {describe(out)}{' for ' + on if on else ''}; its gradients can only be "
             "judged on a finite output that is not all zeros")
    total = (G.detach().cpu().double() * out.detach().cpu().double()).sum()
    for i, arg in enumerate(args):
        euler = (arg.detach().cpu().double() * grads[i].detach().cpu().double()).sum()
        scale = 1.0 + abs(float(total)) + float((arg.detach().cpu().double().abs()
                                                 * grads[i].detach().cpu().double().abs()).sum())
        if not within(euler, total, 1e-4 * scale):
            fail(f"the gradient of {names[i]} through {what}{' for ' + on if on else ''} is not "
                 f"the gradient of the output it returned: part of the computation is cut off "
                 f"from autograd ({NO_GRAPH_HINT})")


def values_differ(message, actual, expected, on, tolerance, mistakes=()):
    """Fail a comparison of tensors: with the pictures of both when `on` (an `Inputs`) was
    shown to the student in full, and the known mistake among `mistakes` that `actual` fits."""
    shown = getattr(on, "shown", False)
    pictures = (picture(expected), picture(actual)) if shown else (None, None)
    if None in pictures:
        pictures = (None, None)
    found = diagnoses.diagnose(actual, expected, getattr(on, "values", None), mistakes,
                               lambda a, b: same_values(a, b, tolerance))
    raise CheckFailed(message, *pictures, diagnosis=found)


def same_values(a, b, tolerance):
    """Two tensors of one shape whose values `agree` (any dtype, any device)."""
    if tuple(a.shape) != tuple(b.shape):
        return False
    return bool(agree(a.detach().cpu().double(), b.detach().cpu().double(), **tolerance).all())


def picture(tensor):
    """A small 2-D map as nested lists of floats, 6 significant digits, NaN and infinities as the
    strings "NaN", "Infinity" and "-Infinity" (JSON has no such numbers; Python's float() and
    JavaScript's Number() read those strings back); leading axes of size 1 are dropped. None
    for anything else."""
    if not isinstance(tensor, torch.Tensor) or tensor.dim() < 2 or tensor.numel() > PICTURE_UP_TO:
        return None
    if any(size != 1 for size in tensor.shape[:-2]) or 0 in tensor.shape or tensor.is_complex():
        return None
    rows = tensor.detach().cpu().double().reshape(tensor.shape[-2:]).tolist()
    return [[_json_number(v) for v in row] for row in rows]


def _json_number(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float(f"{value:.6g}")


def agree(actual, expected, rtol, atol):
    """Entrywise: `actual` (the student's) lies within the tolerance of `expected` (torch's).

    One rule for numbers: NaN and inf never pass by comparing "not greater". Where the
    reference is finite the student's value must be finite and close; where the reference is
    inf it must be the same inf, and only where the reference itself is NaN may it be NaN."""
    close = torch.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=False)
    return close | (torch.isnan(expected) & torch.isnan(actual))


def within(actual, expected, tolerance):
    """A scalar comparison that NaN and inf cannot pass: |actual - expected| <= tolerance, all finite."""
    values = (float(actual), float(expected), float(tolerance))
    return all(math.isfinite(v) for v in values) and abs(values[0] - values[1]) <= values[2]


def first_difference(actual, expected, close):
    """Where two tensors of one shape first differ, given the mask of entries that agree."""
    bad = (~close).nonzero()
    index = tuple(int(i) for i in bad[0])
    text = (f"at index {index} it gave {actual[index].item():.6g}, expected "
            f"{expected[index].item():.6g}; {len(bad)} of {close.numel()} entries differ")
    if expected.numel() <= SHOW_VALUES_UP_TO:
        text += f" (expected {describe(expected, True)}, got {describe(actual, True)})"
    return text


def _dtype(tensor):
    return str(tensor.dtype).replace("torch.", "")


def expect_equal(actual, expected, what, on):
    """Equality by value of plain values (ints, tuples, lists): a namedtuple equals the plain
    tuple, 5.0 equals 5 (the type has its own check where it matters), True is not 1, NaN
    equals nothing."""
    if not same_value(actual, expected):
        fail(f"{what} returned {describe(actual)} for {on}; expected {expected!r}")


def same_value(actual, expected):
    return _comparable(plain_value(actual)) == _comparable(plain_value(expected))


def _comparable(value):
    """bools tagged, so that True is not taken for 1 (an answer that returns a comparison)."""
    if isinstance(value, tuple):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, bool):
        return ("bool", value)
    return value


def plain_value(value):
    """A value by what it is worth: tuples for lists and tuple subclasses (namedtuples), Python
    numbers for numpy scalars, ints for whole floats; for comparison by value."""
    if isinstance(value, (list, tuple)):
        return tuple(plain_value(v) for v in value)
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, float):
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class ShortcutFound(CheckFailed):
    """A forbidden shortcut in the code the exercise reaches: the course's policy may void
    every check of that exercise (grader.engine.shortcuts.apply_policy). `sentence` says where."""

    def __init__(self, message, sentence):
        super().__init__(message)
        self.sentence = sentence


def uses_any(student, exercise, names=()):
    """What the code `exercise` reaches uses that the rule rejects (grader.engine.shortcuts.Finding,
    forbidden shortcuts first): any of `names`, any convolution or pooling entry point, what
    cannot be resolved statically, and what is not on the exercise's allow-list."""
    return shortcuts.reach(student.cells(), exercise, names).findings


def loops_in(student, exercise):
    """The Python loops (for, while, comprehensions) in the code `exercise` reaches, located
    (grader.engine.shortcuts.Loop); a self-test loop below the answer is not reached."""
    return shortcuts.reach(student.cells(), exercise).loops


def expect_not_used(student, exercise, names, reason):
    """Fail when the code `exercise` reaches (grader.engine.shortcuts: its body, its helpers, the
    globals it reads, never top-level test code) uses one of `names`, another convolution
    or pooling entry point, something the grader cannot resolve, or anything off the
    exercise's allow-list; the message names the cell and line. A forbidden shortcut raises
    ShortcutFound, which the course's policy may turn into the loss of the whole exercise."""
    if student.source(exercise) is None:
        fail(f"your notebook has no answer cell `{exercise}`")
    found = uses_any(student, exercise, names)
    if not found:
        return
    first = found[0]
    more = f" (also {', '.join(f'`{f.what}` ({f.where()})' for f in found[1:4])})" if len(found) > 1 else ""
    message = f"{first.sentence(exercise)}: {reason}{more}"
    if first.forbidden:
        raise ShortcutFound(message, first.sentence(exercise))
    fail(message)


expect_not_used.applies_the_rule = True  # a check that calls it gives its exercise the rule (runner)


def call_twice_on_the_same_tensors(student, name, tensors, *rest, **kwargs):
    """Two results of `name`(*tensors, *rest, **kwargs) with one and the same tensors in the
    sandbox (a call sends fresh copies of its arguments): an answer that changes its inputs in
    place computes the second result from what the first call left behind. The tensors are
    bound with Python's own method binding, so no method of the student's tensors is trusted."""
    def ask(target, method, args, kw=None):
        return student._call(f"`{name}`", target, method, tuple(args), kw or {}, None, False, None).result

    module = student.torch_module(["Identity"])
    method_type = module.method("__getattribute__", "forward").method("__getattribute__", "__class__")
    bound = ask(name, "__getattribute__", ["__call__"])
    for tensor in tensors:  # MethodType(f, a)(*r) is f(a, *r)
        bound = method_type(bound, tensor)
    return [ask(bound.handle, None, rest, kwargs) for _ in range(2)]


def expect_runs(student, name, *args):
    """The exercise is answered at all (a stub raises): needed before a static check can pass."""
    expect_tensor(student.run(name, *args).result, f"`{name}`")


def expect_computes_itself(student, exercise, run_args, names, reason):
    """The exercise answers at all (`expect_runs` on `run_args`: a stub that raises earns nothing
    here), and the code it reaches uses none of the forbidden `names` (`expect_not_used`, which
    `reason` explains). An answer that does not run is not read: its source is judged only
    once it returns a tensor (the run-time kernel guard covers every call either way)."""
    expect_runs(student, exercise, *run_args)
    expect_not_used(student, exercise, names, reason)


expect_computes_itself.applies_the_rule = True  # it calls expect_not_used


def rng(seed, name):
    """A torch.Generator for the hidden random inputs of one check, seeded with
    HMAC(installation secret, seed, `name`) (grader.engine.secret): the inputs differ from one
    submission to the next, do not depend on the order the checks run in, repeat under the
    same seed on the same installation, and cannot be rebuilt inside the sandbox."""
    return torch.Generator().manual_seed(input_seed(seed, name))


def py_rng(seed, name):
    """The same, as a `random.Random`, for sweeps over settings (a3_output_shapes)."""
    return random.Random(input_seed(seed, name))
