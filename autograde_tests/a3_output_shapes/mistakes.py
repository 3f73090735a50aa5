"""The known mistakes of a3's exercises (grader.engine.diagnoses): what each returns for the
arguments of a call, computed here from the mistaken formula.

Every `returns` takes the exercise's own parameters (a check's positional and keyword
arguments are bound to them, _common.compare_cases), and says nothing (None) where its
formula gives no size (below 1) or where torch rejects the call for a reason the mistake
does not touch: a student with that mistake raises there or not, as they please.
"""

from grader.engine.diagnoses import Mistake

OUTPUT_SIZE = "1. Output size of a convolution / 합성곱의 출력 크기"
TRANSPOSED = "3. Transposed convolution / 전치 합성곱"
POOLING = "4. Pooling and `ceil_mode` / 풀링과 `ceil_mode`"
WHOLE_SHAPE = "5. The shape of a whole `nn.Conv2d` output / `nn.Conv2d` 출력 전체의 모양"
RECEPTIVE_FIELD = "6. Receptive fields / 수용 영역"
COST = "7. Parameters and multiply-adds / 파라미터 수와 곱셈-덧셈 연산 수"


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _size(value):
    """A mistaken formula's size; None where it gives none (the student may raise there)."""
    return value if value >= 1 else None


# -- one axis of a convolution: (n, k, s, p, d) -> the mistaken output length ----------------

CONV_FORMULAS = {
    "conv_missing_plus_one": (
        "an output size without the + 1 (it counts the steps of the window, not its positions)",
        lambda n, k, s, p, d: _size((n + 2 * p - d * (k - 1) - 1) // s)),
    "conv_floor_ceil_swapped": (
        "an output size rounded up where the formula rounds down (ceil instead of floor)",
        lambda n, k, s, p, d: _size(-(-(n + 2 * p - d * (k - 1) - 1) // s) + 1)),
    "conv_padding_once": (
        "an output size that counts the padding once, n + p, instead of on both sides, n + 2p",
        lambda n, k, s, p, d: _size((n + p - d * (k - 1) - 1) // s + 1)),
    "conv_stride_ignored": (
        "an output size computed as if the stride were 1",
        lambda n, k, s, p, d: _size(n + 2 * p - d * (k - 1))),
    "conv_kernel_not_subtracted": (
        "an output size that never subtracts the kernel, (n + 2p) // s + 1",
        lambda n, k, s, p, d: _size((n + 2 * p) // s + 1)),
    "conv_dilation_ignored": (
        "an output size that ignores dilation (the kernel spans k inputs instead of d(k - 1) + 1)",
        lambda n, k, s, p, d: _size((n + 2 * p - k) // s + 1)),
    "conv_true_division": (
        "an output size divided with / instead of // (a fraction where the stride does not divide evenly)",
        lambda n, k, s, p, d: _size((n + 2 * p - d * (k - 1) - 1) / s + 1)),
}

# No mistaken formula but a missing error: conv_output_size's alone (conv2d_output_shape's checks
# excuse it, test_layers.own_conv_output_size).
NO_FIT_CHECK = Mistake(
    "conv_no_fit_check", "an output size that never checks that the kernel fits (0 or less instead "
    "of a ValueError)", OUTPUT_SIZE,
    lambda n, kernel_size, stride=1, padding=0, dilation=1:
        (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1)


def _conv_output_size(formula):
    return lambda n, kernel_size, stride=1, padding=0, dilation=1: formula(n, kernel_size, stride, padding,
                                                                         dilation)


def _axes(formula, input_shape, kernel_size, stride, padding, dilation):
    """(H', W') from a one-axis formula with each axis's own settings; None if either has none."""
    settings = zip(input_shape[2:], _pair(kernel_size), _pair(stride), _pair(padding), _pair(dilation))
    sizes = tuple(formula(*axis) for axis in settings)
    return None if None in sizes else sizes


def _conv2d_output_shape(formula):
    def returns(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
        sizes = _axes(formula, input_shape, kernel_size, stride, padding, dilation)
        return None if sizes is None else (input_shape[0], out_channels, *sizes)
    return returns


def _correct_size(n, k, s, p, d):
    return _size((n + 2 * p - d * (k - 1) - 1) // s + 1)


def _conv2d_macs(formula, batch=True, groups_used=True, flops=False):
    """N * C_out * H' * W' * (C_in / g) * kh * kw, multiplied in the notebook's order, with one
    of its parts mistaken."""
    def returns(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1):
        sizes = _axes(formula, input_shape, kernel_size, stride, padding, dilation)
        if sizes is None or input_shape[1] % groups or out_channels % groups:
            return None
        (h_out, w_out), (kh, kw) = sizes, _pair(kernel_size)
        n = input_shape[0] if batch else 1
        macs = n * out_channels * h_out * w_out * (input_shape[1] // (groups if groups_used else 1)) * kh * kw
        return 2 * macs if flops else macs
    return returns


CONV_OUTPUT_SIZE_MISTAKES = [Mistake(key, name, OUTPUT_SIZE, _conv_output_size(formula))
                             for key, (name, formula) in CONV_FORMULAS.items()] + [NO_FIT_CHECK]


CONV2D_OUTPUT_SHAPE_MISTAKES = [Mistake(key, name, OUTPUT_SIZE, _conv2d_output_shape(formula))
                                for key, (name, formula) in CONV_FORMULAS.items()] + [
    Mistake("shape_keeps_in_channels", "an output shape that keeps the input's channel count instead "
            "of out_channels", WHOLE_SHAPE,
            lambda input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1:
                _conv2d_output_shape(_correct_size)(input_shape, input_shape[1], kernel_size, stride,
                                                    padding, dilation)),
    Mistake("shape_height_width_swapped", "an output shape with its height and width in the wrong "
            "order, (N, C_out, W', H')", WHOLE_SHAPE,
            lambda input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1:
                _swapped(_conv2d_output_shape(_correct_size)(input_shape, out_channels, kernel_size,
                                                             stride, padding, dilation))),
    Mistake("shape_input_height_width_swapped", "the input shape unpacked as (N, C, W, H): the width "
            "given the height's settings and the other way round", WHOLE_SHAPE,
            lambda input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1:
                _conv2d_output_shape(_correct_size)((*input_shape[:2], input_shape[3], input_shape[2]),
                                                    out_channels, kernel_size, stride, padding, dilation)),
]


def _swapped(shape):
    return None if shape is None else (*shape[:2], shape[3], shape[2])


# -- transposed convolution: (n, k, s, p, op, d) --------------------------------------------

def _transposed(formula, rule=True):
    """A transposed-size formula; None where torch's output_padding rule rejects the call
    (unless `rule` is False: the mistake of leaving that rule out)."""
    def returns(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
        if rule and not (output_padding < stride or output_padding < dilation):
            return None
        return _size(formula(n, kernel_size, stride, padding, output_padding, dilation))
    return returns


CONV_TRANSPOSE_OUTPUT_SIZE_MISTAKES = [
    Mistake("transpose_padding_ignored", "a transposed size that leaves out the padding (- 2p)", TRANSPOSED,
            _transposed(lambda n, k, s, p, op, d: (n - 1) * s + d * (k - 1) + op + 1)),
    Mistake("transpose_padding_once", "a transposed size that subtracts the padding once (- p) "
            "instead of from both sides (- 2p)", TRANSPOSED,
            _transposed(lambda n, k, s, p, op, d: (n - 1) * s - p + d * (k - 1) + op + 1)),
    Mistake("transpose_output_padding_ignored", "a transposed size without output_padding", TRANSPOSED,
            _transposed(lambda n, k, s, p, op, d: (n - 1) * s - 2 * p + d * (k - 1) + 1)),
    Mistake("transpose_dilation_ignored", "a transposed size that ignores dilation (k in place of "
            "d(k - 1) + 1)", TRANSPOSED,
            _transposed(lambda n, k, s, p, op, d: (n - 1) * s - 2 * p + k + op)),
    Mistake("transpose_conv_formula", "the convolution's size formula used for the transposed "
            "convolution", TRANSPOSED,
            _transposed(lambda n, k, s, p, op, d: (n + 2 * p - d * (k - 1) - 1) // s + 1)),
    Mistake("transpose_no_output_padding_rule", "a transposed size that never applies torch's rule "
            "output_padding < stride or < dilation (a size instead of a ValueError)", TRANSPOSED,
            _transposed(lambda n, k, s, p, op, d: (n - 1) * s - 2 * p + d * (k - 1) + op + 1, rule=False)),
]


# -- pooling: (n, k, s, p, d, ceil) ------------------------------------------------------------

def _pool(n, k, s, p, d, ceil, drop=True):
    """nn.MaxPool1d's output length by the notebook's rule; `drop`: its exception for a last
    window that would start in the right padding."""
    span = n + 2 * p - d * (k - 1) - 1
    if not ceil:
        return _size(span // s + 1)
    out = -(-span // s) + 1
    if drop and (out - 1) * s >= n + p:
        out -= 1
    return _size(out)


def _pooling(mistaken, rule=True):
    """A pooling mistake; None where torch rejects the padding (unless `rule` is False: the
    mistake of leaving that check out)."""
    def returns(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        if rule and padding > kernel_size // 2:
            return None
        return mistaken(n, kernel_size, stride, padding, dilation, ceil_mode)
    return returns


POOL_OUTPUT_SIZE_MISTAKES = [
    Mistake("pool_size_stride_default_one", "stride=None taken as stride 1 (for pooling the default "
            "stride is kernel_size)", POOLING,
            _pooling(lambda n, k, s, p, d, ceil: _pool(n, k, 1 if s is None else s, p, d, ceil))),
    Mistake("pool_size_dilation_ignored", "a pooling size that ignores dilation (a window of k inputs "
            "instead of d(k - 1) + 1)", POOLING,
            _pooling(lambda n, k, s, p, d, ceil: _pool(n, k, k if s is None else s, p, 1, ceil))),
    Mistake("pool_naive_ceil", "ceil_mode as a plain ceil division, keeping a last window that would "
            "start in the right padding (torch drops it)", POOLING,
            _pooling(lambda n, k, s, p, d, ceil: _pool(n, k, k if s is None else s, p, d, ceil, drop=False))),
    Mistake("pool_ceil_mode_ignored", "ceil_mode ignored (always rounded down)", POOLING,
            _pooling(lambda n, k, s, p, d, ceil: _pool(n, k, k if s is None else s, p, d, False))),
    Mistake("pool_no_padding_rule", "a pooling size that never checks padding <= kernel_size // 2 (a size "
            "instead of a ValueError)", POOLING,
            _pooling(lambda n, k, s, p, d, ceil: _pool(n, k, k if s is None else s, p, d, ceil), rule=False)),
]


# -- receptive field: layers (k, s) or (k, s, d) --------------------------------------------

def _field(start=1, jump_used=True, dilation_used=True, jump_first=False):
    def returns(layers):
        r, j = start, 1
        for layer in layers:
            k, s, d = (tuple(layer) + (1,))[:3]
            if jump_first:
                j *= s
            r += (d if dilation_used else 1) * (k - 1) * (j if jump_used else 1)
            if not jump_first:
                j *= s
        return r
    return returns


RECEPTIVE_FIELD_MISTAKES = [
    Mistake("rf_jump_ignored", "a receptive field that adds d(k - 1) per layer without the jump "
            "(the product of the earlier strides)", RECEPTIVE_FIELD, _field(jump_used=False)),
    Mistake("rf_dilation_ignored", "a receptive field that leaves out the dilation of (k, s, d) layers",
            RECEPTIVE_FIELD, _field(dilation_used=False)),
    Mistake("rf_starts_at_zero", "a receptive field that starts at 0 instead of 1 (one output unit "
            "always sees its own pixel)", RECEPTIVE_FIELD, _field(start=0)),
    Mistake("rf_jump_updated_first", "the jump multiplied by a layer's stride before that layer's "
            "kernel is added (j *= s comes after r += d(k - 1) j)", RECEPTIVE_FIELD, _field(jump_first=True)),
]


# -- parameters and multiply-adds ------------------------------------------------------------

def _params(bias_counted=None, groups_used=True, square=False):
    """C_out * C_in / g * kh * kw (+ C_out), with one part mistaken; `bias_counted`: None for
    the bias argument, True or False for a bias always or never counted."""
    def returns(in_channels, out_channels, kernel_size, bias=True, groups=1):
        if groups_used and (in_channels % groups or out_channels % groups):
            return None
        kh, kw = _pair(kernel_size)
        kw = kh if square else kw
        with_bias = bias if bias_counted is None else bias_counted
        return out_channels * (in_channels // (groups if groups_used else 1)) * kh * kw + (
            out_channels if with_bias else 0)
    return returns


CONV2D_NUM_PARAMS_MISTAKES = [
    Mistake("params_bias_forgotten", "a parameter count without the biases", COST, _params(bias_counted=False)),
    Mistake("params_bias_always", "a parameter count with biases even when bias=False", COST,
            _params(bias_counted=True)),
    Mistake("params_groups_ignored", "a parameter count that ignores groups (every filter seeing all "
            "C_in channels)", COST, _params(groups_used=False)),
    Mistake("params_square_kernel", "a (kh, kw) kernel counted as kh x kh", COST, _params(square=True)),
]

CONV2D_MACS_MISTAKES = [Mistake(key, name, OUTPUT_SIZE, _conv2d_macs(formula))
                        for key, (name, formula) in CONV_FORMULAS.items()] + [
    Mistake("macs_batch_ignored", "multiply-adds of one image, not of the whole batch of N", COST,
            _conv2d_macs(_correct_size, batch=False)),
    Mistake("macs_groups_ignored", "multiply-adds that ignore groups (each output a dot product over "
            "all C_in channels)", COST, _conv2d_macs(_correct_size, groups_used=False)),
    Mistake("macs_input_size", "multiply-adds counted over the input's H x W instead of the output's "
            "H' x W'", COST, _conv2d_macs(lambda n, k, s, p, d: n)),
    Mistake("macs_counts_flops", "FLOPs (2 per multiply-add, as FlopCounterMode counts) instead of "
            "multiply-adds", COST, _conv2d_macs(_correct_size, flops=True)),
]


BY_EXERCISE = {"conv_output_size": CONV_OUTPUT_SIZE_MISTAKES,
               "conv_transpose_output_size": CONV_TRANSPOSE_OUTPUT_SIZE_MISTAKES,
               "pool_output_size": POOL_OUTPUT_SIZE_MISTAKES,
               "conv2d_output_shape": CONV2D_OUTPUT_SHAPE_MISTAKES,
               "receptive_field": RECEPTIVE_FIELD_MISTAKES,
               "conv2d_num_params": CONV2D_NUM_PARAMS_MISTAKES,
               "conv2d_macs": CONV2D_MACS_MISTAKES}
