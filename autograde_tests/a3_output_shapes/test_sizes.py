"""Hidden checks of a3_output_shapes, one axis: conv_output_size, conv_transpose_output_size,
pool_output_size. Expected values (or errors) come from running torch (see _common.py)."""

import functools
import random

from grader.engine.checks import check, describe, fail, py_rng

from ._common import (Accepted, Raises, call_text, compare_cases, conv1d_length, conv_output_size_call,
                      conv_transpose1d_length, grid, max_pool1d_length, sweep)

# -- conv_output_size -------------------------------------------------------------------------


def conv_case(n, k, s=1, p=0, d=1):
    return (*conv_output_size_call(n, k, s, p, d), conv1d_length(n, k, s, p, d))


@check("conv_output_size", points=2, name="conv_output_size solves the course's five exercises (as nn.Conv2d does)")
def test_conv_course_exercises(student):
    # (H, W), kernel, stride, padding; each axis separately, as nn.Conv2d does
    exercises = [((227, 227), 11, 4, 0), ((64, 64), 7, 2, 0), ((32, 32), 5, 1, 2),
                 ((32, 64), 5, 1, 0), ((64, 32), 3, 1, 1)]
    cases = []
    for (h, w), k, s, p in exercises:
        cases += [conv_case(h, k, s, p), conv_case(w, k, s, p)]
    # the notes' 1-D example and the 28 -> 14 downsampling
    cases += [conv_case(10, 3, 2, 1), conv_case(28, 5, 2, 2), conv_case(46, 5, 2, 2)]
    compare_cases(student, "conv_output_size", cases, "nn.Conv2d")


@check("conv_output_size", points=1, name="conv_output_size accounts for dilation (a dilated kernel spans d*(k-1)+1 inputs)")
def test_conv_dilation(student):
    cases = [conv_case(32, 3, 1, 0, 2), conv_case(32, 3, 1, 2, 2), conv_case(15, 4, 3, 1, 3),
             conv_case(9, 2, 2, 0, 4), conv_case(10, 3, 1, 0, 2), conv_case(20, 5, 2, 3, 3),
             conv_case(11, 3, 3, 1, 5)]
    compare_cases(student, "conv_output_size", cases, "nn.Conv1d")


@check("conv_output_size", points=1, name="conv_output_size raises ValueError when the kernel does not fit the padded input")
def test_conv_kernel_too_large(student):
    # (4, 5), (8, 9) and (2, 3) are also the axes test_shape_kernel_too_large leaves to this check
    cases = [conv_case(2, 3), conv_case(4, 5), conv_case(5, 7, 2), conv_case(1, 4, 1, 1),
             conv_case(2, 5, 3, 1), conv_case(8, 9),
             # the edge: the kernel exactly fits (with or without padding) gives one output
             conv_case(3, 3), conv_case(1, 3, 1, 1), conv_case(7, 7, 3), conv_case(3, 5, 2, 1)]
    assert any(isinstance(c[2], Raises) for c in cases)
    compare_cases(student, "conv_output_size", cases, "nn.Conv1d")


@check("conv_output_size", points=1, name="conv_output_size returns a Python int")
def test_conv_returns_int(student):
    # One mistake, one check: the value checks judge 5.0 as 5; only this one asks for the type.
    # (A numpy integer reaches the grader as the int it is worth.)
    for args, kwargs, _ in [conv_case(32, 5, 1, 2), conv_case(227, 11, 4), conv_case(10, 3, 2, 1)]:
        got = student.conv_output_size(*args, **kwargs)
        if type(got) is not int:
            kind = "a float" if isinstance(got, float) else describe(got)
            fail(f"{call_text('conv_output_size', args, kwargs)} returned {got!r}, {kind}; return an int "
                 "(use // for the division, or int(...))")


@functools.lru_cache(maxsize=4)  # keyed by the submission's seed: keep the last few only
def conv_sweep(seed):
    # every case torch rejects is a kernel that does not fit: test_conv_kernel_too_large's
    return sweep(conv_case, grid(n=range(1, 13), k=range(1, 6), s=range(1, 4), p=range(0, 3),
                                 d=range(1, 4)), valid=90, errors=0, rng=py_rng(seed, "conv_sweep"))


@check("conv_output_size", points=1, name="conv_output_size agrees with nn.Conv1d over a sweep of n, kernel, stride, padding, dilation")
def test_conv_sweep(student, seed):
    compare_cases(student, "conv_output_size", conv_sweep(seed), "nn.Conv1d")


# -- conv_transpose_output_size -------------------------------------------------------------


def transpose_case(n, k, s=1, p=0, op=0, d=1):
    kwargs = {"stride": s, "padding": p}
    if op:
        kwargs["output_padding"] = op
    if d != 1:
        kwargs["dilation"] = d
    return (n, k), kwargs, conv_transpose1d_length(n, k, s, p, op, d)


@check("conv_transpose_output_size", points=1, name="conv_transpose_output_size: (n-1)*stride - 2*padding + kernel_size")
def test_transpose_basic(student):
    cases = [transpose_case(5, 3), transpose_case(16, 3, 2, 1), transpose_case(4, 4, 2, 1),
             transpose_case(7, 2, 2), transpose_case(3, 5, 3, 2), transpose_case(1, 1),
             transpose_case(6, 1, 3), transpose_case(9, 4, 1, 1)]
    compare_cases(student, "conv_transpose_output_size", cases, "nn.ConvTranspose1d")


@check("conv_transpose_output_size", points=1, name="conv_transpose_output_size adds output_padding (e.g. 14 -> 28 undoes a stride-2 convolution)")
def test_transpose_output_padding(student):
    cases = [transpose_case(14, 5, 2, 2, 1), transpose_case(16, 3, 2, 1, 1),
             transpose_case(10, 3, 2, 1, 1), transpose_case(23, 3, 2, 1, 1),
             transpose_case(5, 3, 3, 1, 2), transpose_case(7, 4, 4, 0, 3), transpose_case(1, 2, 2, 0, 1)]
    compare_cases(student, "conv_transpose_output_size", cases, "nn.ConvTranspose2d")


@check("conv_transpose_output_size", points=1, name="conv_transpose_output_size accounts for dilation")
def test_transpose_dilation(student):
    cases = [transpose_case(5, 3, 1, 0, 0, 2), transpose_case(4, 2, 2, 1, 0, 3),
             transpose_case(6, 3, 2, 2, 0, 2), transpose_case(3, 4, 3, 0, 0, 3),
             transpose_case(8, 5, 1, 3, 0, 2)]
    compare_cases(student, "conv_transpose_output_size", cases, "nn.ConvTranspose1d")


@check("conv_transpose_output_size", points=1, name="conv_transpose_output_size raises ValueError unless output_padding < stride or < dilation")
def test_transpose_output_padding_rule(student):
    rejected = [transpose_case(5, 3, 2, 0, 2), transpose_case(5, 3, 1, 0, 1),
                transpose_case(5, 3, 2, 1, 3, 3), transpose_case(6, 2, 3, 0, 4, 2)]
    assert all(isinstance(c[2], Raises) for c in rejected)
    compare_cases(student, "conv_transpose_output_size", rejected, "nn.ConvTranspose1d")
    # accepted by torch because output_padding < dilation, even where it is >= stride: the
    # value is checked by the other checks, here only that it is not rejected
    accepted = [transpose_case(5, 3, 1, 0, 1, 2), transpose_case(4, 4, 1, 0, 2, 3),
                transpose_case(7, 2, 2, 1, 2, 3)]
    assert not any(isinstance(c[2], Raises) for c in accepted)
    compare_cases(student, "conv_transpose_output_size",
                  [(args, kwargs, Accepted(expected)) for args, kwargs, expected in accepted],
                  "nn.ConvTranspose1d")


@functools.lru_cache(maxsize=4)  # keyed by the submission's seed: keep the last few only
def transpose_sweep(seed):
    # the output_padding rule (output_padding >= stride is rejected unless < dilation) is
    # test_transpose_output_padding_rule's, both ways; outputs below 1 stay here
    return sweep(transpose_case, grid(n=range(1, 9), k=range(1, 5), s=range(1, 4), p=range(0, 3),
                                      op=range(0, 4), d=range(1, 4)), valid=80, errors=10,
                 rng=py_rng(seed, "transpose_sweep"), owned=("output padding must be smaller",),
                 leave_out=lambda g: g["op"] >= g["s"])


@check("conv_transpose_output_size", points=1, name="conv_transpose_output_size agrees with nn.ConvTranspose1d over a sweep (output_padding, dilation, outputs too small)")
def test_transpose_sweep(student, seed):
    compare_cases(student, "conv_transpose_output_size", transpose_sweep(seed), "nn.ConvTranspose1d")


# -- pool_output_size -----------------------------------------------------------------------


def pool_case(n, k, s=None, p=0, d=1, ceil=False, stride_given=True):
    kwargs = {}
    if stride_given:
        kwargs["stride"] = s
    if p:
        kwargs["padding"] = p
    if d != 1:
        kwargs["dilation"] = d
    if ceil:
        kwargs["ceil_mode"] = True
    return (n, k), kwargs, max_pool1d_length(n, k, s, p, d, ceil)


def naive_ceil(n, k, s, p, d):
    """The textbook ceil formula, without torch's rule for windows starting in the padding."""
    s = k if s is None else s
    return -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1


@check("pool_output_size", points=1, name="pool_output_size uses stride = kernel_size when stride is None (the default)")
def test_pool_default_stride(student):
    cases = [pool_case(28, 2, stride_given=False), pool_case(24, 2, stride_given=False),
             pool_case(5, 2, stride_given=False), pool_case(7, 3, stride_given=False),
             pool_case(10, 3, None, 1, stride_given=False), pool_case(9, 4, stride_given=False),
             pool_case(13, 3)]
    compare_cases(student, "pool_output_size", cases, "nn.MaxPool1d")


@check("pool_output_size", points=1, name="pool_output_size with ceil_mode=True keeps the last partial window")
def test_pool_ceil_mode(student):
    cases = [pool_case(5, 2, ceil=True, stride_given=False), pool_case(7, 2, ceil=True, stride_given=False),
             pool_case(10, 3, 2, ceil=True), pool_case(11, 4, 3, 1, ceil=True),
             pool_case(8, 2, 2, 1, ceil=True), pool_case(8, 3, 2, 0, 2, ceil=True),
             pool_case(6, 2, None, 1, ceil=True), pool_case(28, 2, 2, ceil=True)]
    # all of them cases where the textbook ceil formula is right (the exception has its own check)
    assert all(c[2] == naive_ceil(c[0][0], c[0][1], c[1].get("stride"), c[1].get("padding", 0),
                                  c[1].get("dilation", 1)) for c in cases)
    compare_cases(student, "pool_output_size", cases, "nn.MaxPool1d(ceil_mode=True)")


@functools.cache
def ceil_drop_cases():
    """ceil_mode cases where the naive ceil formula is wrong: torch drops a last window that
    would start in the right padding."""
    # explicit strides only (stride=None has its own check); padding torch accepts
    settings = [g for g in grid(n=range(1, 16), k=range(2, 6), s=(1, 2, 3, 4), p=range(1, 3),
                                d=(1, 2)) if g["p"] <= g["k"] // 2]
    random.Random(5).shuffle(settings)  # a fixed set: such cases are rare, and all are drawn
    found = []
    for g in settings:
        case = pool_case(**g, ceil=True)
        if not isinstance(case[2], Raises) and case[2] != naive_ceil(**g):
            found.append(case)
            if len(found) == 8:
                break
    return found


@check("pool_output_size", points=1, name="pool_output_size with ceil_mode drops a last window that would start in the right padding")
def test_pool_ceil_mode_drops_window_in_padding(student):
    cases = [pool_case(4, 2, 3, 1, ceil=True)] + ceil_drop_cases()
    compare_cases(student, "pool_output_size", cases, "nn.MaxPool1d(ceil_mode=True)")


@check("pool_output_size", points=1, name="pool_output_size raises ValueError for padding over half the kernel, as nn.MaxPool1d does")
def test_pool_padding_too_large(student):
    cases = [pool_case(8, 3, 1, 2), pool_case(5, 2, 2, 2), pool_case(6, 4, 1, 3), pool_case(9, 5, 2, 3),
             pool_case(12, 1, 1, 1),
             # padding = kernel_size // 2 is allowed
             pool_case(4, 3, 2, 1), pool_case(5, 2, 2, 1), pool_case(6, 4, 1, 2), pool_case(9, 5, 2, 2)]
    compare_cases(student, "pool_output_size", cases, "nn.MaxPool1d")


@check("pool_output_size", points=1, name="pool_output_size accounts for dilation")
def test_pool_dilation(student):
    cases = [pool_case(10, 3, 1, 1, 2), pool_case(12, 2, 2, 0, 3), pool_case(15, 3, 3, 1, 2),
             pool_case(9, 4, 1, 2, 2), pool_case(11, 2, 1, 1, 4)]
    compare_cases(student, "pool_output_size", cases, "nn.MaxPool1d")


def starts_in_right_padding(setting):
    """ceil_mode, padding torch accepts, and the textbook ceil formula's last window would
    start in the right padding (torch drops it): about 1 setting in 100 of the sweep's grid."""
    n, k, s, p, d = (setting[key] for key in ("n", "k", "s", "p", "d"))
    s = k if s is None else s
    return setting["ceil"] and p <= k // 2 and (naive_ceil(n, k, s, p, d) - 1) * s >= n + p


@functools.lru_cache(maxsize=4)  # keyed by the submission's seed: keep the last few only
def pool_sweep(seed):
    # padding over half the kernel is test_pool_padding_too_large's; outputs below 1 stay here.
    # Drawn at random, ceil-mode windows in the padding were missing at 7 seeds in 1,000.
    return sweep(pool_case, grid(n=range(1, 13), k=range(1, 6), s=(None, 1, 2, 3), p=range(0, 3),
                                 d=(1, 2), ceil=(False, True)), valid=90, errors=12,
                 rng=py_rng(seed, "pool_sweep"), owned=("at most half",),
                 always=[(starts_in_right_padding, 2)])


@check("pool_output_size", points=1, name="pool_output_size agrees with nn.MaxPool1d over a sweep (stride None, padding, dilation, ceil_mode, outputs too small)")
def test_pool_sweep(student, seed):
    compare_cases(student, "pool_output_size", pool_sweep(seed), "nn.MaxPool1d")
