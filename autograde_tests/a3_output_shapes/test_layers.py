"""Hidden checks of a3_output_shapes, whole layers: conv2d_output_shape, receptive_field,
conv2d_num_params, conv2d_macs. Expected values come from running torch (F.conv2d for
shapes, sum(p.numel()) and FlopCounterMode on real nn.Conv2d modules) and, for receptive
fields, from measuring with autograd (see _common.py)."""

import functools

from grader.engine.checks import check, py_rng, same_value
from grader.engine.student import StudentError

from ._common import (Raises, compare_cases, conv1d_length, conv2d_macs, conv2d_params, conv2d_shape,
                      conv_output_size_call, measured_receptive_field)

# -- conv2d_output_shape ----------------------------------------------------------------------


def shape_case(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    kwargs = {}
    if stride != 1:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    if dilation != 1:
        kwargs["dilation"] = dilation
    return ((input_shape, out_channels, kernel_size), kwargs,
            conv2d_shape(input_shape, out_channels, kernel_size, stride, padding, dilation))


@check("conv2d_output_shape", points=1, name="conv2d_output_shape gives nn.Conv2d's (N, C_out, H', W') for the course's exercises")
def test_shape_course(student):
    cases = [shape_case((1, 3, 227, 227), 96, 11, 4), shape_case((1, 1, 64, 64), 8, 7, 2),
             shape_case((1, 3, 32, 32), 10, 5, 1, 2), shape_case((2, 3, 32, 64), 4, 5),
             shape_case((1, 3, 64, 32), 8, 3, 1, 1), shape_case((8, 1, 28, 28), 6, 5, 1, 2),
             shape_case((4, 6, 14, 14), 16, 5), shape_case((1, 1, 32, 46), 10, 5, 2, 2)]
    compare_cases(student, "conv2d_output_shape", cases, "nn.Conv2d")


@check("conv2d_output_shape", points=1, name="conv2d_output_shape takes (height, width) pairs for kernel_size, stride, padding, dilation")
def test_shape_pairs(student):
    cases = [shape_case((2, 3, 32, 64), 4, (5, 3), (1, 2), (0, 1)),
             shape_case((3, 2, 17, 23), 5, (3, 5), (2, 1), (1, 2), (1, 2)),
             shape_case((1, 1, 40, 9), 2, (7, 1), (3, 1), (3, 0), (2, 1)),
             shape_case((1, 4, 12, 30), 3, (1, 7), 2, (0, 3)),
             shape_case((2, 1, 9, 9), 1, 3, (1, 3), 1, (3, 1)),
             shape_case((1, 2, 20, 11), 6, (4, 2), (3, 2), (2, 1), (2, 3))]
    compare_cases(student, "conv2d_output_shape", cases, "nn.Conv2d")


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def unguarded_size(n, k, s, p, d):
    """What the output-size formula gives when nothing checks that the kernel fits (0 or less)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def own_conv_output_size(student):
    """excuse() for compare_cases: conv2d_output_shape returned, for a kernel that does not fit,
    the unguarded formula's sizes (computed here), and the student's own conv_output_size also
    returns a size for that axis instead of raising. That missing ValueError is
    conv_output_size's (test_conv_kernel_too_large judges these same axes), so it is not
    charged twice; the student's value is never the reference. conv_output_size is asked in
    a fresh copy of the notebook (nothing conv2d_output_shape did is visible there), with
    the arguments shaped as conv_output_size's own checks shape them."""
    def excuse(args, kwargs, got):
        (n, _, h, w), out_channels, kernel_size = args
        sizes = [_pair(kernel_size), _pair(kwargs.get("stride", 1)), _pair(kwargs.get("padding", 0)),
                 _pair(kwargs.get("dilation", 1))]
        axes = [(length, *(v[axis] for v in sizes)) for axis, length in enumerate((h, w))]
        if not same_value(got, (n, out_channels, *(unguarded_size(*axis) for axis in axes))):
            return False
        fresh = student.fresh()
        for axis in axes:
            if isinstance(conv1d_length(*axis), Raises):
                args, kwargs = conv_output_size_call(*axis)  # exactly as conv_output_size's checks call it
                try:
                    fresh.conv_output_size(*args, **kwargs)
                except StudentError:
                    return False
        return True
    return excuse


@check("conv2d_output_shape", points=1, name="conv2d_output_shape raises ValueError when the kernel does not fit (on either axis)")
def test_shape_kernel_too_large(student):
    cases = [shape_case((1, 1, 4, 10), 2, 5), shape_case((1, 1, 10, 4), 2, (3, 5)),
             shape_case((2, 3, 8, 8), 4, (9, 3), 1, (0, 1)), shape_case((1, 1, 2, 10), 1, 3, 1, (0, 1)),
             # the edge: the kernel exactly fits
             shape_case((1, 1, 5, 5), 3, 5), shape_case((1, 2, 3, 1), 1, (5, 3), 1, 1)]
    compare_cases(student, "conv2d_output_shape", cases, "nn.Conv2d", excuse=own_conv_output_size(student))


@functools.lru_cache(maxsize=4)  # keyed by the submission's seed: keep the last few only
def shape_sweep(seed):
    """Settings nn.Conv2d accepts (a kernel that does not fit is test_shape_kernel_too_large's)."""
    rng = py_rng(seed, "shape_sweep")

    def one():
        return rng.randint(1, 5) if rng.random() < 0.5 else (rng.randint(1, 5), rng.randint(1, 5))
    valid = []
    while len(valid) < 30:  # about 45 draws
        case = shape_case((rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 20), rng.randint(1, 20)),
                          rng.randint(1, 8), one(), one(),
                          rng.choice([0, 1, 2, (0, 1), (2, 0), (1, 3)]),
                          rng.choice([1, 1, 2, (1, 2), (3, 1)]))
        if not isinstance(case[2], Raises):
            valid.append(case)
    return valid


@check("conv2d_output_shape", points=1, name="conv2d_output_shape agrees with nn.Conv2d on random settings (ints and pairs)")
def test_shape_sweep(student, seed):
    compare_cases(student, "conv2d_output_shape", shape_sweep(seed), "nn.Conv2d")


# -- receptive_field -----------------------------------------------------------------------


def rf_case(layers):
    layers = [tuple(layer) for layer in layers]
    return (layers,), {}, measured_receptive_field(tuple(layers))


REFERENCE = "a receptive field measured with autograd through real convolutions"


@check("receptive_field", points=1, name="receptive_field of stride-1 stacks: each k x k layer adds k - 1")
def test_rf_stride_one(student):
    cases = [rf_case([]), rf_case([(3, 1)]), rf_case([(3, 1)] * 3), rf_case([(5, 1), (5, 1)]),
             rf_case([(1, 1)]), rf_case([(7, 1), (3, 1), (1, 1)])]
    compare_cases(student, "receptive_field", cases, REFERENCE)


@check("receptive_field", points=1, name="receptive_field grows with the cumulative stride (the jump) of earlier layers")
def test_rf_strided(student):
    cases = [rf_case([(3, 2), (3, 2)]), rf_case([(5, 1), (2, 2), (5, 1), (2, 2)]),
             rf_case([(7, 2), (3, 2), (3, 1)]), rf_case([(3, 2)] * 4), rf_case([(2, 2)] * 3),
             rf_case([(11, 4), (3, 2), (5, 1), (3, 2)]), rf_case([(3, 1), (3, 3)])]
    compare_cases(student, "receptive_field", cases, REFERENCE)


@check("receptive_field", points=1, name="receptive_field takes (kernel_size, stride, dilation) layers")
def test_rf_dilated(student):
    cases = [rf_case([(3, 1, 2)]), rf_case([(3, 1, 1), (3, 1, 2), (3, 1, 4)]),
             rf_case([(2, 1, 3)]), rf_case([(3, 1, 2), (3, 1, 2)]), rf_case([(5, 1, 3), (1, 1, 4)])]
    compare_cases(student, "receptive_field", cases, REFERENCE)


@functools.lru_cache(maxsize=4)  # keyed by the submission's seed: keep the last few only
def rf_random(seed):
    rng = py_rng(seed, "rf_random")
    cases = []
    for _ in range(12):
        layers = []
        for _ in range(rng.randint(1, 5)):
            layer = (rng.randint(1, 7), rng.randint(1, 3))
            if rng.random() < 0.4:
                layer += (rng.randint(1, 3),)
            layers.append(layer)
        cases.append(rf_case(layers))
    return cases


@check("receptive_field", points=1, name="receptive_field agrees with a measured receptive field on random stacks")
def test_rf_random(student, seed):
    compare_cases(student, "receptive_field", rf_random(seed), REFERENCE)


# -- conv2d_num_params ---------------------------------------------------------------------


def params_case(c_in, c_out, k, bias=True, groups=1):
    kwargs = {}
    if bias is not True:
        kwargs["bias"] = bias
    if groups != 1:
        kwargs["groups"] = groups
    return (c_in, c_out, k), kwargs, conv2d_params(c_in, c_out, k, bias, groups)


PARAMS = "sum(p.numel() for p in nn.Conv2d(...).parameters())"


@check("conv2d_num_params", points=1, name="conv2d_num_params counts the weights and the biases of nn.Conv2d")
def test_params_course(student):
    cases = [params_case(3, 10, 5), params_case(1, 6, 5), params_case(6, 16, 5), params_case(3, 96, 11),
             params_case(16, 8, 3), params_case(64, 32, 1)]
    compare_cases(student, "conv2d_num_params", cases, PARAMS)


@check("conv2d_num_params", points=1, name="conv2d_num_params with bias=False counts no biases")
def test_params_no_bias(student):
    cases = [params_case(3, 16, 3, False), params_case(1, 6, 5, False), params_case(64, 32, 1, False),
             params_case(3, 10, 5, True)]
    compare_cases(student, "conv2d_num_params", cases, PARAMS)


@check("conv2d_num_params", points=1, name="conv2d_num_params with groups: each filter sees in_channels / groups channels")
def test_params_groups(student):
    cases = [params_case(8, 12, 3, groups=4), params_case(32, 32, 3, groups=32),
             params_case(4, 8, 1, groups=2), params_case(6, 6, 5, groups=3), params_case(6, 12, 3, groups=6)]
    compare_cases(student, "conv2d_num_params", cases, PARAMS)


@check("conv2d_num_params", points=1, name="conv2d_num_params takes a (kh, kw) kernel_size")
def test_params_rect_kernel(student):
    cases = [params_case(3, 10, (3, 5)), params_case(1, 4, (1, 7)), params_case(2, 2, (5, 1)),
             params_case(16, 8, (2, 3))]
    compare_cases(student, "conv2d_num_params", cases, PARAMS)


# -- conv2d_macs ---------------------------------------------------------------------------


def macs_case(input_shape, c_out, k, stride=1, padding=0, dilation=1, groups=1):
    kwargs = {}
    for name, value, default in (("stride", stride, 1), ("padding", padding, 0),
                                 ("dilation", dilation, 1), ("groups", groups, 1)):
        if value != default:
            kwargs[name] = value
    return ((input_shape, c_out, k), kwargs,
            conv2d_macs(input_shape, c_out, k, stride, padding, dilation, groups))


MACS = "FlopCounterMode on nn.Conv2d (FLOPs / 2)"


@check("conv2d_macs", points=1, name="conv2d_macs of the course's layers (EECS 498 example, LeNet) for one image")
def test_macs_course(student):
    cases = [macs_case((1, 3, 32, 32), 10, 5, 1, 2), macs_case((1, 1, 28, 28), 6, 5, 1, 2),
             macs_case((1, 6, 14, 14), 16, 5), macs_case((1, 16, 8, 8), 32, 1)]
    compare_cases(student, "conv2d_macs", cases, MACS)


@check("conv2d_macs", points=1, name="conv2d_macs counts every image of the batch")
def test_macs_batch(student):
    cases = [macs_case((2, 3, 32, 32), 10, 5, 1, 2), macs_case((8, 1, 28, 28), 6, 5, 1, 2),
             macs_case((5, 6, 14, 14), 16, 5), macs_case((3, 2, 7, 9), 4, 3)]
    compare_cases(student, "conv2d_macs", cases, MACS)


@check("conv2d_macs", points=1, name="conv2d_macs uses the output size: stride, padding, dilation, pairs")
def test_macs_output_size(student):
    cases = [macs_case((1, 3, 227, 227), 96, 11, 4), macs_case((1, 8, 15, 20), 12, (3, 5), (2, 1), (1, 2), (1, 2)),
             macs_case((1, 2, 9, 7), 4, 3, 2, 1), macs_case((1, 3, 16, 16), 5, 3, 1, 0, 3),
             macs_case((1, 1, 64, 64), 2, 7, 2)]
    compare_cases(student, "conv2d_macs", cases, MACS)


@check("conv2d_macs", points=1, name="conv2d_macs with groups: each output sees in_channels / groups channels")
def test_macs_groups(student):
    cases = [macs_case((1, 8, 15, 20), 12, 3, groups=4), macs_case((1, 16, 8, 8), 16, 3, 1, 1, groups=16),
             macs_case((1, 4, 8, 8), 4, 3, 1, 1, groups=4), macs_case((1, 6, 10, 10), 12, 1, groups=3)]
    compare_cases(student, "conv2d_macs", cases, MACS)
