"""corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)): references are F.conv2d.

Padding is checked with stride 1 and stride with no padding, so a mistake in one costs the
other nothing; the random sweep combines both. Every check but the int-argument one passes
padding and stride as (height, width) pairs.
"""

import torch
import torch.nn.functional as F

from grader.engine.checks import (CheckFailed, check, expect_computes_itself, expect_gradients, expect_ints_like_pairs,
                                  expect_keeps_dtype_device, expect_values, inputs, rng, shape_text)

from .._corr2d_support import FORBIDDEN, FORBIDDEN_REASON
from .mistakes import PADDED_STRIDED_MISTAKES

NAME = "corr2d_padded_strided"


def ref(X, K, padding=(0, 0), stride=(1, 1)):
    return F.conv2d(X[None, None], K[None, None], padding=padding, stride=stride)[0, 0]


def call_text(X, K, padding, stride):
    return inputs(X=X, K=K, padding=padding, stride=stride).worded(
        f"X of shape {shape_text(X.shape)}, K of shape {shape_text(K.shape)}, "
        f"padding={padding}, stride={stride} ({str(X.dtype).replace('torch.', '')} on {X.device})")


def expect_case(student, X, K, padding, stride, hint=""):
    out = student.corr2d_padded_strided(X, K, padding=padding, stride=stride)
    expected = ref(X, K, padding, stride)
    on = call_text(X, K, padding, stride)
    try:
        expect_values(out, expected, NAME, on, mistakes=PADDED_STRIDED_MISTAKES)
    except CheckFailed as error:
        raise CheckFailed(f"{error}{hint}", error.expected, error.got, error.diagnosis) from None


@check(NAME, points=2, name="corr2d_padded_strided gives the course's worked examples")
def test_padded_strided_worked_examples(student, devices):
    for device in devices:
        X = torch.arange(9.0, device=device).reshape(3, 3)
        K = torch.arange(4.0, device=device).reshape(2, 2)
        out = student.corr2d_padded_strided(X, K)  # the defaults: no padding, stride 1
        expect_values(out, ref(X, K), f"{NAME}(X, K) with the default padding and stride",
                      inputs(X=X, K=K, padding=(0, 0), stride=(1, 1)).worded(inputs(X=X, K=K)),
                      mistakes=PADDED_STRIDED_MISTAKES)
        ones_x, ones_k = torch.ones(3, 3, device=device), torch.ones(2, 2, device=device)
        out = student.corr2d_padded_strided(ones_x, ones_k, padding=(1, 1), stride=(1, 1))
        expect_values(out, ref(ones_x, ones_k, (1, 1)), NAME,
                      inputs(X=ones_x, K=ones_k, padding=(1, 1), stride=(1, 1)).worded(
                          "X = torch.ones(3, 3), K = torch.ones(2, 2), padding=(1, 1), stride=(1, 1)"),
                      mistakes=PADDED_STRIDED_MISTAKES)


PADDING_HINT = (". Pad with p_h rows of zeros on top AND bottom and p_w columns on the left AND right "
                "(the height grows by 2 * p_h); with F.pad the order is (left, right, top, bottom)")


@check(NAME, points=2, name="corr2d_padded_strided pads with zeros on all four sides (p_h rows top and bottom, p_w columns left and right)")
def test_padded_strided_padding_both_sides(student, seed, devices):
    gen = rng(seed, "test_padded_strided_padding_both_sides")
    cases = [((4, 4), (3, 3), (1, 1)), ((5, 6), (2, 3), (2, 1)), ((4, 5), (3, 2), (0, 2)),
             ((6, 4), (2, 2), (1, 0)), ((3, 3), (3, 3), (1, 2))]
    for device in devices:
        for x_shape, k_shape, padding in cases:
            X = torch.randn(x_shape, generator=gen).to(device)
            K = torch.randn(k_shape, generator=gen).to(device)
            expect_case(student, X, K, padding, (1, 1), PADDING_HINT)


STRIDE_HINT = (". Window (i, j) starts at row i * s_h and column j * s_w, and there are "
               "(H + 2 p_h - h) // s_h + 1 rows and (W + 2 p_w - w) // s_w + 1 columns of windows")


@check(NAME, points=2, name="corr2d_padded_strided applies the stride on both axes, also when it does not divide evenly")
def test_padded_strided_stride_both_axes(student, seed, devices):
    gen = rng(seed, "test_padded_strided_stride_both_axes")
    cases = [((8, 8), (3, 3), (2, 2)), ((7, 9), (2, 3), (1, 3)), ((9, 7), (3, 2), (3, 1)),
             ((8, 8), (3, 5), (3, 4)), ((6, 7), (2, 2), (4, 2))]
    for device in devices:
        for x_shape, k_shape, stride in cases:
            X = torch.randn(x_shape, generator=gen).to(device)
            K = torch.randn(k_shape, generator=gen).to(device)
            expect_case(student, X, K, (0, 0), stride, STRIDE_HINT)


@check(NAME, points=1, name="corr2d_padded_strided accepts an int for padding or stride (the same on both axes)")
def test_padded_strided_int_arguments(student, seed, devices):
    # Only the handling of ints is judged here, against the student's own answer for the same
    # pair, from a fresh copy of the notebook that has not run the int call.
    gen = rng(seed, "test_padded_strided_int_arguments")
    fresh = student.fresh()
    for device in devices:
        for padding, stride in [(1, 2), (1, (1, 2)), ((2, 1), 3), (0, 1)]:
            X = torch.randn(7, 6, generator=gen).to(device)
            K = torch.randn(3, 2, generator=gen).to(device)
            as_pairs = tuple(v if isinstance(v, tuple) else (v, v) for v in (padding, stride))
            int_out = student.corr2d_padded_strided(X, K, padding=padding, stride=stride)
            pair_out = fresh.corr2d_padded_strided(X, K, padding=as_pairs[0], stride=as_pairs[1])
            expect_ints_like_pairs(int_out, pair_out, ref(X, K, padding, stride), NAME, call_text(X, K, padding, stride)
                                   + f", which should equal padding={as_pairs[0]}, stride={as_pairs[1]}")


# (input, kernel, padding, stride, dtype): non-square, 1x1 kernels, kernels as large as the
# padded input, strides that do not divide evenly, float32 and float64.
RANDOM_CASES = [
    ((8, 8), (3, 3), (1, 1), (2, 2), torch.float32),
    ((7, 9), (2, 4), (1, 2), (2, 3), torch.float64),
    ((5, 6), (1, 1), (2, 0), (2, 4), torch.float32),
    ((4, 5), (6, 5), (1, 0), (1, 1), torch.float64),   # kernel as large as the padded input
    ((10, 7), (3, 2), (0, 1), (3, 2), torch.float32),
    ((6, 11), (4, 3), (2, 2), (4, 3), torch.float64),
    ((9, 9), (5, 5), (2, 2), (1, 1), torch.float32),
]


@check(NAME, points=2, name="corr2d_padded_strided matches torch on random inputs, paddings and strides (float32 and float64)")
def test_padded_strided_random(student, seed, devices):
    gen = rng(seed, "test_padded_strided_random")
    for device in devices:
        for x_shape, k_shape, padding, stride, dtype in RANDOM_CASES:
            X = torch.randn(x_shape, generator=gen, dtype=dtype).to(device)
            K = torch.randn(k_shape, generator=gen, dtype=dtype).to(device)
            expect_case(student, X, K, padding, stride)


@check(NAME, points=1, name="corr2d_padded_strided lets gradients flow back to X and K")
def test_padded_strided_gradients(student, seed, devices):
    gen = rng(seed, "test_padded_strided_gradients")
    for device in devices:
        for x_shape, k_shape, padding, stride in [((5, 6), (3, 2), (1, 1), (2, 2)),
                                                  ((6, 5), (2, 3), (2, 0), (1, 2))]:
            X = torch.randn(x_shape, generator=gen, dtype=torch.float64).to(device)
            K = torch.randn(k_shape, generator=gen, dtype=torch.float64).to(device)
            kwargs = {"padding": padding, "stride": stride}
            expect_gradients(student, NAME, [X, K], lambda x, k: ref(x, k, padding, stride), NAME,
                             call_text(X, K, padding, stride), gen, kwargs)


@check(NAME, points=1, name="corr2d_padded_strided keeps the input's dtype and device")
def test_padded_strided_dtype_device(student, seed, devices):
    gen = rng(seed, "test_padded_strided_dtype_device")
    for device in devices:
        for dtype in (torch.float64, torch.float32):
            X = torch.randn(5, 4, generator=gen, dtype=dtype).to(device)
            K = torch.randn(2, 2, generator=gen, dtype=dtype).to(device)
            out = student.corr2d_padded_strided(X, K, padding=(1, 1), stride=(1, 1))
            expect_keeps_dtype_device(out, X, NAME, call_text(X, K, (1, 1), (1, 1)),
                                      "create the padded input and the output with dtype=X.dtype, device=X.device")


@check(NAME, points=1, name="corr2d_padded_strided computes the windows itself (no F.conv2d, nn.Conv2d, unfold)")
def test_padded_strided_no_builtin_conv(student, devices):
    expect_computes_itself(student, NAME, (torch.ones(3, 3), torch.ones(2, 2)), FORBIDDEN,
                           FORBIDDEN_REASON + " (F.pad is allowed)")
