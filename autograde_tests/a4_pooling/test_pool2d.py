"""Hidden checks of a4_pooling: pool2d(X, kernel_size, stride=None, padding=0, mode='max').

The reference is torch: nn.MaxPool2d / nn.AvgPool2d (count_include_pad=True, torch's
default) applied to X with its leading dimensions flattened into the batch.

One check, one mistake: the value checks use float32 inputs and judge shape and values only
(grader.engine.checks.expect_values), so a wrong dtype or device costs only `test_keeps_dtype`
/ `test_keeps_device`; padding, default stride, per-axis stride and leading dimensions each
have their own check, and the other checks use none of them (2-D inputs, explicit int
strides, no padding except where padding is the point).
"""

import torch
from torch import nn

from grader.engine.checks import (call_twice_on_the_same_tensors, check, describe, expect_close,
                                  expect_keeps_dtype_device, expect_not_used, expect_runs, expect_tensor, expect_values, fail,
                                  inputs, rng)
from grader.engine.student import StudentError, plain_tensor

from .._corr2d_support import interior_close
from .mistakes import POOL2D_MISTAKES

EXERCISE = "pool2d"


def torch_pool(X, kernel_size, stride=None, padding=0, mode="max"):
    """nn.MaxPool2d / nn.AvgPool2d over the last two dims of X, any leading dims."""
    layer = (nn.MaxPool2d if mode == "max" else nn.AvgPool2d)(kernel_size, stride=stride,
                                                              padding=padding)
    flat = X.reshape(-1, 1, *X.shape[-2:])
    out = layer(flat)
    return out.reshape(*X.shape[:-2], *out.shape[-2:])


def call_text(X, kernel_size, stride, padding, mode, stride_given=True):
    args = [f"kernel_size={kernel_size!r}"]
    if stride_given:
        args.append(f"stride={stride!r}")
    if padding:
        args.append(f"padding={padding!r}")
    args.append(f"mode={mode!r}")
    return inputs(X=X, kernel_size=kernel_size, stride=stride, padding=padding, mode=mode).worded(
        f"pool2d(X, {', '.join(args)}) with {inputs(X=X)}")


def compare(student, X, kernel_size, stride=None, padding=0, mode="max", stride_given=True):
    kwargs = {"mode": mode}
    if stride_given:
        kwargs["stride"] = stride
    if padding:
        kwargs["padding"] = padding
    out = student.pool2d(X, kernel_size, **kwargs)
    expected = torch_pool(X, kernel_size, stride, padding, mode)
    # values and shape only: dtype and device are test_keeps_dtype's and test_keeps_device's
    expect_values(out, expected, EXERCISE, call_text(X, kernel_size, stride, padding, mode, stride_given),
                  mistakes=POOL2D_MISTAKES)


def distinct(gen, shape, dtype=torch.float32, low=None):
    """Random distinct multiples of 1/4: no ties (max pooling's gradient goes to one element),
    exact in every dtype, and short to print in a failure message. `low`: the smallest value."""
    n = 1
    for s in shape:
        n *= s
    values = torch.randperm(n, generator=gen).to(torch.float64)
    values = values + (low * 4 if low is not None else -(n // 2))
    return (values / 4).reshape(shape).to(dtype)


# (shape, kernel_size, stride): 2-D inputs, no padding, int strides; non-square inputs and
# kernels, 1x1 kernels, kernels as large as the input, strides that do not divide evenly,
# overlapping windows.
RANDOM_CASES = [
    ((5, 7), (2, 3), 1),
    ((6, 9), 3, 2),
    ((7, 5), (3, 2), 2),
    ((8, 8), 2, 3),
    ((4, 6), 1, 1),
    ((3, 5), (1, 1), 2),
    ((5, 7), (5, 7), 1),
    ((6, 6), (6, 1), 4),
    ((9, 4), (2, 4), 3),
    ((11, 10), (4, 3), 3),
]


@check(EXERCISE, points=2, name="pool2d reproduces the course's worked examples")
def test_course_examples(student, devices):
    X3 = torch.arange(9.0).reshape(3, 3)
    A = torch.tensor([[1., 9, 3, 7], [4, 5, 2, 8], [7, 3, 9, 0], [1, 2, 3, 3]])
    B = torch.tensor([[1., 1, 2, 2], [1, 1, 2, 2], [3, 3, 1, 2], [3, 3, 1, 4]])
    X4 = torch.arange(16.0).reshape(4, 4)
    cases = [(X3, 2, 1, "max"), (X3, 2, 1, "avg"), (A, 2, 2, "max"), (B, 2, 2, "avg"),
             (X4, (2, 2), (2, 2), "max"), (X4, 3, 1, "avg")]
    for device in devices:
        for X, k, s, mode in cases:
            compare(student, X.to(device), k, s, mode=mode)


@check(EXERCISE, points=2, name="max pooling matches nn.MaxPool2d on random inputs")
def test_max_random(student, seed, devices):
    gen = rng(seed, "test_max_random")
    for device in devices:
        for shape, k, s in RANDOM_CASES:
            compare(student, distinct(gen, shape).to(device), k, s, mode="max")


@check(EXERCISE, points=2, name="average pooling matches nn.AvgPool2d on random inputs")
def test_avg_random(student, seed, devices):
    gen = rng(seed, "test_avg_random")
    for device in devices:
        for shape, k, s in RANDOM_CASES:
            compare(student, distinct(gen, shape).to(device), k, s, mode="avg")


@check(EXERCISE, points=2, name="stride=None (the default) means stride = kernel_size")
def test_default_stride(student, seed, devices):
    gen = rng(seed, "test_default_stride")
    cases = [((4, 4), 2, "max"), ((7, 9), (2, 3), "max"), ((6, 5), 2, "avg"), ((9, 8), (3, 2), "avg")]
    for device in devices:
        for shape, k, mode in cases:
            X = distinct(gen, shape).to(device)
            compare(student, X, k, None, mode=mode, stride_given=False)
        X = distinct(gen, (5, 8)).to(device)
        compare(student, X, (2, 3), None, mode="max", stride_given=True)


@check(EXERCISE, points=1, name="a stride pair (sh, sw) moves the window by sh rows and sw columns")
def test_stride_per_axis(student, seed, devices):
    gen = rng(seed, "test_stride_per_axis")
    cases = [((6, 9), 2, (1, 3), "max"), ((9, 6), (3, 2), (3, 1), "avg"), ((7, 8), 2, (2, 3), "max"),
             ((8, 7), (2, 2), (3, 2), "avg")]
    for device in devices:
        for shape, k, s, mode in cases:
            compare(student, distinct(gen, shape).to(device), k, s, mode=mode)


@check(EXERCISE, points=2, name="max pooling pads with -inf, so padding never wins (all-negative inputs)")
def test_max_padding_is_minus_inf(student, seed, devices):
    gen = rng(seed, "test_max_padding_is_minus_inf")
    cases = [((4, 4), 3, 2, 1), ((5, 6), 2, 1, 1), ((5, 7), (3, 5), 2, (1, 2)),
             ((6, 5), (4, 2), 1, (2, 0)), ((3, 3), 3, 1, 1)]
    for device in devices:
        for shape, k, s, p in cases:
            X = distinct(gen, shape, low=-40)
            X = X - X.max() - 0.25                      # all negative
            compare(student, X.to(device), k, s, p, mode="max")


@check(EXERCISE, points=2, name="average pooling counts padded zeros in the mean (count_include_pad=True)")
def test_avg_padding_counts_zeros(student, seed, devices):
    gen = rng(seed, "test_avg_padding_counts_zeros")
    cases = [((4, 4), 3, 2, 1), ((5, 6), 2, 1, 1), ((5, 7), (3, 5), 2, (1, 2)),
             ((6, 5), (4, 2), 1, (2, 0)), ((3, 3), 3, 1, 1)]
    for device in devices:
        for shape, k, s, p in cases:
            X = distinct(gen, shape, low=1)             # all positive
            compare(student, X.to(device), k, s, p, mode="avg")


@check(EXERCISE, points=2, name="leading dimensions (channels, batch) are pooled independently")
def test_leading_dims(student, seed, devices):
    gen = rng(seed, "test_leading_dims")
    cases = [((3, 5, 6), 2, 2, "max"), ((2, 3, 6, 5), (3, 2), 1, "max"), ((3, 5, 6), 2, 1, "avg"),
             ((2, 3, 6, 5), (2, 3), 2, "avg"), ((2, 2, 2, 4, 5), 2, 1, "max"), ((1, 1, 4, 4), 2, 2, "avg")]
    for device in devices:
        for shape, k, s, mode in cases:
            compare(student, distinct(gen, shape).to(device), k, s, mode=mode)


@check(EXERCISE, points=1, name="pool2d keeps the input's dtype (float64 in, float64 out)")
def test_keeps_dtype(student, seed, devices):
    gen = rng(seed, "test_keeps_dtype")
    for device in devices:
        for mode in ("max", "avg"):
            X = distinct(gen, (5, 6), torch.float64).to(device)
            expect_keeps_dtype_device(student.pool2d(X, 2, stride=1, mode=mode), X, EXERCISE,
                                      call_text(X, 2, 1, 0, mode), "create new tensors with dtype=X.dtype, "
                                      "or build the result from slices of X", device=False)


@check(EXERCISE, points=1, name="pool2d returns its result on the input's device")
def test_keeps_device(student, seed, devices):
    gen = rng(seed, "test_keeps_device")
    for device in devices:
        for mode in ("max", "avg"):
            X = distinct(gen, (4, 6)).to(device)
            expect_keeps_dtype_device(student.pool2d(X, 2, stride=2, mode=mode), X, EXERCISE,
                                      call_text(X, 2, 2, 0, mode), "create new tensors with device=X.device",
                                      dtype=False)


@check(EXERCISE, points=2, name="gradients flow back to X as through nn.MaxPool2d / nn.AvgPool2d")
def test_gradients(student, seed, devices):
    gen = rng(seed, "test_gradients")
    cases = [((5, 6), 3, 1, "max"), ((6, 5), (2, 3), 2, "max"), ((5, 6), 3, 1, "avg"),
             ((6, 5), (2, 3), 2, "avg")]
    for device in devices:
        for shape, k, s, mode in cases:
            X = distinct(gen, shape).to(device)
            reference = X.clone().requires_grad_(True)
            expected = torch_pool(reference, k, s, 0, mode)
            G = torch.randn(expected.shape, generator=gen).to(device)
            expected.backward(G)
            on = call_text(X, k, s, 0, mode)
            # the forward first, so that a wrong shape is reported as such and not as a
            # failing backward
            out = expect_tensor(student.pool2d(X, k, stride=s, mode=mode), EXERCISE)
            if out.shape != expected.shape:
                fail(f"pool2d returned shape {tuple(out.shape)} for {on}; expected "
                     f"{tuple(expected.shape)}, so its gradient cannot be compared")
            # G goes where the result is: a result on the wrong device costs test_keeps_device,
            # not this check (autograd carries the gradient back to X across devices)
            try:
                result = student.run("pool2d", X.requires_grad_(True), k, stride=s, mode=mode,
                                     backward=G.to(out.device))
            except StudentError as error:
                if error.kind == "raised" and "does not require grad" in str(error):
                    fail(f"the result of pool2d is not connected to X for {on}, so backward "
                         "cannot reach X. Build the output from torch operations on X (no .item(), "
                         ".data, .detach(), torch.tensor(...) of computed values, or numpy)")
                if error.kind == "raised" and "in-place" in str(error):
                    fail(f"pool2d changes X in place, which autograd refuses for an X that requires "
                         f"grad ({on}): {error}. Work on new tensors (X / n instead of X /= n)")
                raise
            grad = result.input_grads[0] if result.input_grads else None
            if not plain_tensor(grad):
                fail(f"after backward through pool2d, X.grad is {describe(grad)} for {on}; the "
                     "result must be computed from X with torch operations so that gradients reach X")
            expect_close(grad.to(reference.grad.device), reference.grad, "the gradient of pool2d "
                         "with respect to X", on)


@check(EXERCISE, points=1, name="pool2d does not modify its input")
def test_does_not_modify_input(student, seed, devices):
    # Judged by behaviour: two calls on the same X in the sandbox must both give torch's answer;
    # what pool2d writes into X shows in the second. No padding, and the last output row and
    # column left out, so padding or window-count mistakes (other checks) do not cost this one.
    gen = rng(seed, "test_does_not_modify_input")
    for device in devices:
        for mode in ("max", "avg"):
            X = distinct(gen, (9, 10)).to(device)
            expected = torch_pool(X, 3, 2, 0, mode)
            first, second = call_twice_on_the_same_tensors(student, EXERCISE, (X,), 3, stride=2, mode=mode)
            on = call_text(X, 3, 2, 0, mode)
            if not interior_close(first, expected):
                fail(f"pool2d returned {describe(first)} for {on}; expected torch's {describe(expected)}, "
                     "so whether it leaves X unchanged could not be judged (the value checks say what is wrong)")
            if not interior_close(second, expected):
                fail(f"pool2d changes its input X in place: called a second time on the same X ({on}), it "
                     "returned different values. Work on new tensors (X / n instead of X /= n, F.pad returns "
                     "a new tensor)")


@check(EXERCISE, points=1, name="pool2d raises ValueError for an unknown mode or padding over half the kernel")
def test_rejects_bad_arguments(student, devices):
    X = torch.arange(16.0).reshape(4, 4)
    bad = [({"kernel_size": 2, "mode": "min"}, "mode='min' (only 'max' and 'avg' exist)"),
           ({"kernel_size": 2, "mode": "sum"}, "mode='sum' (only 'max' and 'avg' exist)"),
           ({"kernel_size": 2, "padding": 2, "mode": "max"},
            "padding=2 with kernel_size=2 (nn.MaxPool2d requires padding <= kernel_size // 2)"),
           ({"kernel_size": (3, 2), "padding": (1, 2), "mode": "avg"},
            "padding=(1, 2) with kernel_size=(3, 2) (padding must be <= kernel_size // 2 on each axis)")]
    for kwargs, why in bad:
        try:
            out = student.pool2d(X, **kwargs)
        except StudentError as error:
            if error.kind != "raised":
                raise
            if not error.is_a(ValueError):
                fail(f"pool2d raised {error.type_name} for {why}; it should raise ValueError (or an exception "
                     f"of a class derived from it), and {error.type_name} is not one")
            continue
        fail(f"pool2d returned {describe(out)} for {why}; it should raise ValueError")
    # and valid arguments are not rejected (their values are the other checks' business)
    expect_tensor(student.pool2d(X, 3, stride=1, padding=1, mode="max"), EXERCISE)


FORBIDDEN = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
             "max_pool2d_with_indices", "adaptive_max_pool2d", "adaptive_avg_pool2d", "lp_pool2d",
             "fractional_max_pool2d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d",
             "AvgPool3d", "AdaptiveMaxPool2d", "AdaptiveAvgPool2d", "LPPool2d", "FractionalMaxPool2d",
             "unfold", "Unfold", "conv1d", "conv2d", "conv3d", "Conv1d", "Conv2d", "Conv3d",
             "conv_transpose2d", "ConvTranspose2d"]


@check(EXERCISE, points=1, name="pool2d is written without torch's pooling, unfold or convolution")
def test_no_torch_pooling(student, devices):
    # The source first, as this suite always judged it: a pool2d that raises on the input below
    # still has its shortcut found (and the course's policy applied).
    expect_not_used(student, EXERCISE, FORBIDDEN,
                    "this exercise is to write pooling yourself; use slicing and max/mean "
                    "(F.pad is allowed), not torch's pooling functions, unfold or a convolution")
    expect_runs(student, EXERCISE, torch.arange(16.0).reshape(4, 4), 2)  # the static check alone would pass a stub
