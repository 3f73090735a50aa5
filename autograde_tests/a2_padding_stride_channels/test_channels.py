"""corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1: references are F.conv2d.

corr2d_multi_in_out is graded on its own: when the student's corr2d_multi_in is wrong (its
checks say how), the output channels may be what that function returns for each K[o], asked
of fresh copies of the notebook that have not run the corr2d_multi_in_out call being judged.
"""

import torch
import torch.nn.functional as F

from grader.engine.checks import (check, close, expect_computes_itself, expect_keeps_dtype_device, expect_not_used,
                                  expect_runs, expect_values, fail, inputs, loops_in, rng, shape_text, worked_example)

from .._corr2d_support import FORBIDDEN, FORBIDDEN_REASON
from .mistakes import MULTI_IN_MISTAKES, MULTI_IN_OUT_MISTAKES


def ref_multi_in(X, K):
    return F.conv2d(X[None], K[None])[0, 0]


def ref_multi_in_out(X, K):
    return F.conv2d(X[None], K)[0]


def course_inputs(device):
    X = torch.stack([torch.arange(9.0).reshape(3, 3), torch.arange(1.0, 10.0).reshape(3, 3)]).to(device)
    K = torch.stack([torch.arange(4.0).reshape(2, 2), torch.arange(1.0, 5.0).reshape(2, 2)]).to(device)
    return X, K


def on(X, K):
    return inputs(X=X, K=K).worded(
        f"X of shape {shape_text(X.shape)} and K of shape {shape_text(K.shape)} "
            f"({str(X.dtype).replace('torch.', '')} on {X.device})")


DTYPE_DEVICE_HINT = "create any new tensor with dtype=X.dtype, device=X.device"


# -- corr2d_multi_in -------------------------------------------------------------------------

MULTI_IN_CASES = [  # (c_i, H, W), (h, w), dtype
    ((3, 5, 6), (2, 3), torch.float32),
    ((1, 6, 4), (3, 3), torch.float64),
    ((4, 4, 7), (4, 1), torch.float32),
    ((2, 5, 5), (5, 5), torch.float64),
    ((3, 7, 4), (1, 1), torch.float32),
]


@check("corr2d_multi_in", points=1, name="corr2d_multi_in gives the course's two-channel example")
def test_multi_in_worked_example(student, devices):
    for device in devices:
        X, K = course_inputs(device)
        expect_values(student.corr2d_multi_in(X, K), ref_multi_in(X, K), "corr2d_multi_in",
                      worked_example(X=X, K=K).worded(
                          "the course's two-channel X (0..8 and 1..9) and K (0..3 and 1..4)"),
                      mistakes=MULTI_IN_MISTAKES)


@check("corr2d_multi_in", points=1, name="corr2d_multi_in returns one channel of shape (H - h + 1, W - w + 1)")
def test_multi_in_output_shape(student, devices):
    for device in devices:
        for x_shape, k_shape in [((3, 6, 5), (3, 2, 2)), ((4, 5, 7), (4, 3, 2))]:
            X, K = torch.ones(x_shape, device=device), torch.ones(k_shape, device=device)
            out = student.corr2d_multi_in(X, K)
            expected = ref_multi_in(X, K).shape
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(expected):
                got = shape_text(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                fail(f"corr2d_multi_in returned shape {got} for {on(X, K)}; expected {shape_text(expected)}: "
                     "cross-correlate each channel, then add the c_i results up over the channel axis "
                     "(the first one, dim=0)")


@check("corr2d_multi_in", points=2, name="corr2d_multi_in matches torch on random inputs (1 to 4 channels, float32 and float64)")
def test_multi_in_random(student, seed, devices):
    gen = rng(seed, "test_multi_in_random")
    for device in devices:
        for x_shape, k_hw, dtype in MULTI_IN_CASES:
            X = torch.randn(x_shape, generator=gen, dtype=dtype).to(device)
            K = torch.randn((x_shape[0],) + k_hw, generator=gen, dtype=dtype).to(device)
            expect_values(student.corr2d_multi_in(X, K), ref_multi_in(X, K), "corr2d_multi_in", on(X, K),
                          mistakes=MULTI_IN_MISTAKES)


@check("corr2d_multi_in", points=1, name="corr2d_multi_in keeps the input's dtype and device")
def test_multi_in_dtype_device(student, seed, devices):
    gen = rng(seed, "test_multi_in_dtype_device")
    for device in devices:
        for dtype in (torch.float64, torch.float32):
            X = torch.randn(2, 4, 5, generator=gen, dtype=dtype).to(device)
            K = torch.randn(2, 2, 2, generator=gen, dtype=dtype).to(device)
            expect_keeps_dtype_device(student.corr2d_multi_in(X, K), X, "corr2d_multi_in", on(X, K),
                                      DTYPE_DEVICE_HINT)


@check("corr2d_multi_in", points=1, name="corr2d_multi_in computes the windows itself (no F.conv2d, nn.Conv2d, unfold)")
def test_multi_in_no_builtin_conv(student, devices):
    expect_computes_itself(student, "corr2d_multi_in", course_inputs("cpu"), FORBIDDEN,
                           FORBIDDEN_REASON + " (use corr2d)")


# -- corr2d_multi_in_out -----------------------------------------------------------------------

def own_channels(student, X, K):
    """The student's own corr2d_multi_in applied to each K[o], stacked; None when it misbehaves.
    Each channel is asked of a fresh copy of the executed notebook: none of them has run the
    corr2d_multi_in_out call it excuses, so none can hand back what that call returned."""
    fresh = student.fresh()
    try:
        channels = [fresh.corr2d_multi_in(X, K[o]) for o in range(K.shape[0])]
        if not all(isinstance(c, torch.Tensor) for c in channels):
            return None
        return torch.stack([c.to(device=X.device) for c in channels])
    except Exception:
        return None


def expect_multi_in_out(student, X, K, what_on):
    out = student.corr2d_multi_in_out(X, K)
    expected = ref_multi_in_out(X, K)
    if isinstance(out, torch.Tensor) and not close(out, expected):
        own = own_channels(student, X, K)
        # right for the (wrong) corr2d_multi_in it builds on, which loses its own checks on these
        # same values: excused only for a finite part that is demonstrably not torch's
        if own is not None and bool(torch.isfinite(own).all()) and not close(own, expected) \
                and close(out, own):
            return
    expect_values(out, expected, "corr2d_multi_in_out", what_on, mistakes=MULTI_IN_OUT_MISTAKES)


@check("corr2d_multi_in_out", points=1, name="corr2d_multi_in_out gives the course's three-output-channel example")
def test_multi_in_out_worked_example(student, devices):
    for device in devices:
        X, K2 = course_inputs(device)
        K = torch.stack((K2, K2 + 1, K2 + 2), dim=0)
        expect_multi_in_out(student, X, K, worked_example(X=X, K=K).worded(
            "the course's two-channel X and K = stack(K, K + 1, K + 2)"))


@check("corr2d_multi_in_out", points=1, name="corr2d_multi_in_out returns shape (c_o, H - h + 1, W - w + 1)")
def test_multi_in_out_output_shape(student, devices):
    for device in devices:
        for x_shape, k_shape in [((2, 6, 5), (4, 2, 2, 3)), ((3, 4, 7), (1, 3, 2, 2)), ((1, 5, 4), (3, 1, 3, 1))]:
            X, K = torch.ones(x_shape, device=device), torch.ones(k_shape, device=device)
            out = student.corr2d_multi_in_out(X, K)
            expected = ref_multi_in_out(X, K).shape
            if isinstance(out, torch.Tensor) and tuple(out.shape) != tuple(expected):
                own = own_channels(student, X, K)
                if own is not None and tuple(own.shape) == tuple(out.shape):
                    continue  # stacked right; the wrong size comes from corr2d_multi_in's own checks
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(expected):
                got = shape_text(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                fail(f"corr2d_multi_in_out returned shape {got} for {on(X, K)}; expected {shape_text(expected)}: "
                     "one output channel per kernel K[o] (o over the first axis of K, c_o of them), "
                     "stacked along a new first dimension")


@check("corr2d_multi_in_out", points=2, name="corr2d_multi_in_out matches torch on random inputs (float32 and float64)")
def test_multi_in_out_random(student, seed, devices):
    gen = rng(seed, "test_multi_in_out_random")
    cases = [((3, 5, 6), (2, 3, 2, 2), torch.float32), ((2, 6, 4), (4, 2, 3, 1), torch.float64),
             ((1, 4, 5), (3, 1, 4, 5), torch.float32), ((4, 5, 5), (1, 4, 1, 1), torch.float64)]
    for device in devices:
        for x_shape, k_shape, dtype in cases:
            X = torch.randn(x_shape, generator=gen, dtype=dtype).to(device)
            K = torch.randn(k_shape, generator=gen, dtype=dtype).to(device)
            expect_multi_in_out(student, X, K, on(X, K))


@check("corr2d_multi_in_out", points=1, name="corr2d_multi_in_out keeps the input's dtype and device")
def test_multi_in_out_dtype_device(student, seed, devices):
    gen = rng(seed, "test_multi_in_out_dtype_device")
    for device in devices:
        for dtype in (torch.float64, torch.float32):
            X = torch.randn(2, 4, 5, generator=gen, dtype=dtype).to(device)
            K = torch.randn(3, 2, 2, 2, generator=gen, dtype=dtype).to(device)
            out = student.corr2d_multi_in_out(X, K)
            if isinstance(out, torch.Tensor) and (out.dtype != dtype or out.device.type != X.device.type):
                own = own_channels(student, X, K)
                if own is not None and (own.dtype, own.device.type) == (out.dtype, out.device.type) \
                        and own.dtype != dtype:
                    continue  # inherited from corr2d_multi_in, which loses its own dtype check
            expect_keeps_dtype_device(out, X, "corr2d_multi_in_out", on(X, K), DTYPE_DEVICE_HINT)


@check("corr2d_multi_in_out", points=1, name="corr2d_multi_in_out computes the windows itself (no F.conv2d, nn.Conv2d, unfold)")
def test_multi_in_out_no_builtin_conv(student, devices):
    X, K = course_inputs("cpu")
    expect_computes_itself(student, "corr2d_multi_in_out", (X, K[None]), FORBIDDEN,
                           FORBIDDEN_REASON + " (use corr2d_multi_in)")


# -- corr2d_multi_in_out_1x1 -------------------------------------------------------------------

NAME_1x1 = "corr2d_multi_in_out_1x1"


@check(NAME_1x1, points=2, name="corr2d_multi_in_out_1x1 matches torch's 1 x 1 convolution (float32 and float64)")
def test_1x1_values(student, seed, devices):
    gen = rng(seed, "test_1x1_values")
    cases = [((3, 3, 3), 2, torch.float32), ((4, 5, 6), 7, torch.float32), ((2, 4, 3), 5, torch.float64),
             ((6, 2, 7), 3, torch.float64)]
    for device in devices:
        for x_shape, c_o, dtype in cases:
            X = torch.randn(x_shape, generator=gen, dtype=dtype).to(device)
            K = torch.randn(c_o, x_shape[0], 1, 1, generator=gen, dtype=dtype).to(device)
            expect_values(student.corr2d_multi_in_out_1x1(X, K), ref_multi_in_out(X, K), NAME_1x1, on(X, K))


@check(NAME_1x1, points=1, name="corr2d_multi_in_out_1x1 works with a single input or output channel")
def test_1x1_single_channel(student, seed, devices):
    gen = rng(seed, "test_1x1_single_channel")
    for device in devices:
        for x_shape, c_o in [((1, 4, 5), 3), ((3, 4, 5), 1), ((1, 3, 4), 1)]:
            X = torch.randn(x_shape, generator=gen).to(device)
            K = torch.randn(c_o, x_shape[0], 1, 1, generator=gen).to(device)
            expect_values(student.corr2d_multi_in_out_1x1(X, K), ref_multi_in_out(X, K), NAME_1x1,
                          on(X, K) + ". Reshape with explicit sizes (K.reshape(c_o, c_i)); squeeze() "
                          "also drops the channel axes of size 1")


@check(NAME_1x1, points=1, name="corr2d_multi_in_out_1x1 keeps the input's dtype and device")
def test_1x1_dtype_device(student, seed, devices):
    gen = rng(seed, "test_1x1_dtype_device")
    for device in devices:
        for dtype in (torch.float64, torch.float32):
            X = torch.randn(3, 4, 5, generator=gen, dtype=dtype).to(device)
            K = torch.randn(2, 3, 1, 1, generator=gen, dtype=dtype).to(device)
            expect_keeps_dtype_device(student.corr2d_multi_in_out_1x1(X, K), X, NAME_1x1, on(X, K),
                                      DTYPE_DEVICE_HINT)


@check(NAME_1x1, points=1, name="corr2d_multi_in_out_1x1 is one matrix product: no Python loop, no built-in convolution")
def test_1x1_is_matrix_product(student, devices):
    X, K = torch.ones(3, 2, 2), torch.ones(2, 3, 1, 1)
    expect_runs(student, NAME_1x1, X, K)
    loops = loops_in(student, NAME_1x1)
    if loops:
        fail(f"`{NAME_1x1}` reaches {loops[0].kind} ({loops[0].where()}); write it as a single matrix "
             "product: K.reshape(c_o, c_i) @ X.reshape(c_i, H * W), reshaped to (c_o, H, W)")
    expect_not_used(student, NAME_1x1, FORBIDDEN,
                    "the point of this exercise is to see the 1 x 1 convolution as a matrix product")
