"""learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10): gradient descent on the summed squared error.

The starting kernel is the student's choice (nn.Conv2d's init, torch.rand, torch.randn, ...),
drawn from the sandbox's generators, which every check and every fresh call re-seeds with the
submission's seed. So a call with lr=0 and num_epochs=0 returns the student's own start k0,
and the same start is used by every other call made through `student.fresh()`. The checks
never assume where k0 lies:

- a run with some lr and num_epochs must equal gradient descent from k0 with that lr and
  those epochs, computed here in float64 (tolerance 1e-4: float32 rounding over 40 steps
  stays below 1e-5). The usual mistakes (no zero_grad, the mean instead of the sum, ascent)
  miss it by far more for any start that is not already the answer;
- "uses lr" / "uses num_epochs": a run that takes no step (lr=0, num_epochs=0) shows the
  start; a second run, differing only in that argument, must be gradient descent from it with
  the arguments it was given. Ignoring the argument returns the same kernel twice (or a
  jittered or NaN one), which no start explains: from any start that is not within about 1e-3
  of the answer, the descent moves it by far more than the tolerance.
A hard-coded lr or epoch count that equals the default costs only its "uses" check: the
descent checks accept gradient descent with the default in place of the ignored argument.
"""

import torch

from grader.engine.checks import (CheckFailed, check, describe, expect_keeps_dtype_device, expect_tensor, fail, rng,
                                  shape_text)
from grader.engine.diagnoses import diagnose
from grader.engine.student import StudentError

from .._corr2d_support import ref_corr2d
from .mistakes import DEFAULT_EPOCHS, DEFAULT_LR, LEARN_MISTAKES, descend

TOLERANCE = 1e-4


def edge_image(device, dtype=torch.float32):
    X = torch.ones((6, 8), dtype=dtype)
    X[:, 2:6] = 0
    return X.to(device)


def edge_example(device, dtype=torch.float32):
    X = edge_image(device, dtype)
    return X, ref_corr2d(X, torch.tensor([[1.0, -1.0]], dtype=dtype, device=device))


def kernel_of(out, call):
    """The two kernel values, whatever the (wrong) shape; the shape has its own check."""
    expect_tensor(out, "learn_edge_kernel")
    if out.numel() != 2:
        fail(f"{call} returned a tensor of shape {shape_text(out.shape)}; expected the (1, 2) kernel")
    return out.detach().cpu().double().reshape(1, 2)


# the usual mistakes of the descent itself (LEARN_MISTAKES names them): expect_follows accepts them
DESCENT_MISTAKES = [{"zero_grad": False}, {"mean": True}, {"sign": -1.0}]


def near(a, b):
    return bool(torch.isclose(a, b, rtol=TOLERANCE, atol=TOLERANCE).all())


def starts(student, X, Y):
    """The student's starting kernel: what it returns when it cannot move (lr=0 and/or 0
    epochs), each call in a fresh copy of the notebook, so from the same random state."""
    found = []
    for kwargs in ({"lr": 0.0, "num_epochs": 0}, {"lr": 0.0}, {"num_epochs": 0}):
        try:
            out = student.fresh().learn_edge_kernel(X, Y, **kwargs)
        except StudentError as error:
            if error.kind != "raised":
                raise
            continue
        if isinstance(out, torch.Tensor) and out.numel() == 2:
            kernel = out.detach().cpu().double().reshape(1, 2)
            if not any(torch.equal(kernel, k) for k in found):
                found.append(kernel)
    if not found:
        fail("learn_edge_kernel(X, Y, lr=0.0, num_epochs=0) did not return a (1, 2) kernel: with no "
             "step to take it should return its starting kernel")
    return found


def expect_descent(student, X, Y, lr, num_epochs, call, kwargs):
    """The student's run equals gradient descent from its own start (with the default lr or
    epochs in place of an ignored argument: that mistake has its own check)."""
    kernel = kernel_of(student.fresh().learn_edge_kernel(X, Y, **kwargs), call)
    candidates = starts(student, X, Y)
    settings = {(lr, num_epochs), (DEFAULT_LR, num_epochs), (lr, DEFAULT_EPOCHS)}
    for k0 in candidates:
        for setting in settings:
            if near(kernel, descend(k0, X, Y, *setting)):
                return
    k0 = candidates[0]
    expected = descend(k0, X, Y, lr, num_epochs)
    found = diagnose(kernel, expected, {"k0": k0, "X": X, "Y": Y, "lr": lr, "num_epochs": num_epochs},
                     LEARN_MISTAKES, near)
    got, start, want = (describe(k, values_only=True) for k in (kernel, k0, expected))
    raise CheckFailed(
        f"{call} returned {got}; from your own starting kernel {start} (what it returns with "
        f"lr=0 and num_epochs=0), {num_epochs} steps of gradient descent with lr={lr:g} on the summed "
        f"squared error give {want}. Check the loop: loss = sum of squared errors, zero the "
        "gradient before each backward, then weight -= lr * grad.", diagnosis=found)


@check("learn_edge_kernel", points=2, name="learn_edge_kernel does gradient descent on the course's edge image (from its own starting kernel)")
def test_learn_edge_kernel_course_example(student, devices):
    for device in devices:
        X, Y = edge_example(device)
        expect_descent(student, X, Y, DEFAULT_LR, DEFAULT_EPOCHS,
                       f"learn_edge_kernel(X, Y) on the course's 6 x 8 edge image ({device})", {})


def other_data(seed, device):
    """A random 5 x 6 image (from the submission's seed) and its map by [[0.5, -2]]. Values in
    [-0.8, 0.8] keep gradient descent with lr up to 0.03 stable for every draw (the largest
    eigenvalue of the loss's Hessian / 2 is at most 2 * 25 * 0.64 = 32)."""
    gen = rng(seed, "learn_edge_kernel other data")
    X = ((torch.rand(5, 6, generator=gen) * 2 - 1) * 0.8).to(device)
    return X, ref_corr2d(X, torch.tensor([[0.5, -2.0]], device=device))


@check("learn_edge_kernel", points=2, name="learn_edge_kernel does gradient descent on other data, with the lr and num_epochs it is given")
def test_learn_edge_kernel_other_kernel(student, seed, devices):
    for device in devices:
        X, Y = other_data(seed, device)
        expect_descent(student, X, Y, 0.02, 40,
                       f"learn_edge_kernel(X, Y, lr=0.02, num_epochs=40) with Y = corr2d(X, [[0.5, -2]]), "
                       f"X random 5 x 6 ({device})", {"lr": 0.02, "num_epochs": 40})


def expect_follows(student, X, Y, name, values, others, advice):
    """Two runs that differ only in `name` (the first with a value that makes no step: lr=0 or
    num_epochs=0, so it returns the start) must each be gradient descent with the arguments
    they were given, from that one start. An answer that ignores `name` returns the same kernel
    twice, or a jittered or non-finite one, and no start explains both: it fails whatever it
    returns; a correct one passes from whatever start it draws. The other argument may be the
    default in place of an ignored one, and the descent may make one of the DESCENT_MISTAKES
    (those have their own checks)."""
    runs = []
    for value in values:
        kwargs = {**others, name: value}
        call = "learn_edge_kernel(X, Y, " + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
        runs.append((call, kernel_of(student.fresh().learn_edge_kernel(X, Y, **kwargs), call)))
    (still_call, start), (moved_call, moved) = runs
    if not bool(torch.isfinite(start).all()):
        fail(f"{still_call} returned {describe(start, values_only=True)}; with no step to take it should "
             f"return its starting kernel, a finite one. {advice}")
    lr, epochs = (values[1], others["num_epochs"]) if name == "lr" else (others["lr"], values[1])
    settings = {(lr, epochs), (DEFAULT_LR, epochs), (lr, DEFAULT_EPOCHS)}
    # the descent itself may make one of the usual mistakes: the descent checks charge those
    variants = [{}] + DESCENT_MISTAKES
    if any(near(moved, descend(start, X, Y, *setting, **variant))
           for setting in settings for variant in variants):
        return
    got, began, want = (describe(k, values_only=True) for k in (moved, start, descend(start, X, Y, lr, epochs)))
    raise CheckFailed(
        f"{moved_call} on the course's edge image returned {got}; from {began}, what "
        f"{still_call} returns (its start: that call takes no step), {epochs} steps of gradient descent "
        f"with lr={lr:g} give {want}: the result does not follow the "
        f"{name} it is given. {advice}", diagnosis=diagnosis_from_start(student, X, Y, moved, lr, epochs))


def diagnosis_from_start(student, X, Y, kernel, lr, num_epochs):
    """The known mistake a failed run's kernel fits, from the student's true start (lr=0 and
    num_epochs=0: an ignored argument cannot move it), not from the first run, which an
    ignored argument moves; None where no start can be had."""
    try:
        k0 = starts(student, X, Y)[0]
    except (CheckFailed, StudentError):
        return None
    return diagnose(kernel, descend(k0, X, Y, lr, num_epochs),
                    {"k0": k0, "X": X, "Y": Y, "lr": lr, "num_epochs": num_epochs}, LEARN_MISTAKES, near)


@check("learn_edge_kernel", points=1, name="learn_edge_kernel uses its lr argument")
def test_learn_edge_kernel_uses_lr(student, devices):
    for device in devices:
        X, Y = edge_example(device)
        expect_follows(student, X, Y, "lr", (0.0, 0.01), {"num_epochs": 2},
                       "Use the lr argument in the update (weight -= lr * grad), not a fixed learning rate.")


@check("learn_edge_kernel", points=1, name="learn_edge_kernel uses its num_epochs argument")
def test_learn_edge_kernel_uses_num_epochs(student, devices):
    for device in devices:
        X, Y = edge_example(device)
        expect_follows(student, X, Y, "num_epochs", (0, 3), {"lr": 0.01},
                       "Loop `for _ in range(num_epochs)` instead of a fixed number of epochs.")


# Whether the kernel is detached from the weight's autograd graph is not judged: it shows only
# inside the sandbox (a backward through it, or the requires_grad its reply reports), which the
# student's code controls; no value the grader receives differs. The notebook still asks for it.
@check("learn_edge_kernel", points=1, name="learn_edge_kernel returns a (1, 2) tensor")
def test_learn_edge_kernel_returns_1x2(student, devices):
    for device in devices:
        X, Y = edge_example(device)
        out = expect_tensor(student.learn_edge_kernel(X, Y), "learn_edge_kernel")
        if tuple(out.shape) != (1, 2):
            fail(f"learn_edge_kernel(X, Y) returned shape {shape_text(out.shape)}; expected (1, 2): "
                 "reshape the (1, 1, 1, 2) weight of nn.Conv2d with .reshape(1, 2)")


@check("learn_edge_kernel", points=1, name="learn_edge_kernel keeps X's dtype and device (float64)")
def test_learn_edge_kernel_dtype_device(student, devices):
    for device in devices:
        X, Y = edge_example(device, torch.float64)
        expect_keeps_dtype_device(student.learn_edge_kernel(X, Y), X, "learn_edge_kernel(X, Y)",
                                  f"a float64 X on {device}", "move the layer to X's dtype and device: "
                                  "nn.Conv2d(...).to(dtype=X.dtype, device=X.device)")
