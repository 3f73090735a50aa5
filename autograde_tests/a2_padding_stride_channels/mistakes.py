"""The known mistakes of a2's exercises (grader.engine.diagnoses): what each returns for the
inputs of the call that failed, computed here with torch."""

import torch
import torch.nn.functional as F

from grader.engine.diagnoses import Mistake

PADDING_AND_STRIDE = "1. Padding and stride"
INPUT_CHANNELS = "3. Multiple input channels"
OUTPUT_CHANNELS = "4. Multiple output channels"


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _conv(X, K, padding=(0, 0), stride=(1, 1)):
    return F.conv2d(X[None, None], K[None, None], padding=padding, stride=stride)[0, 0]


def _padded_one_side(X, K, padding, stride):
    p_h, p_w = _pair(padding)
    return _conv(F.pad(X, (p_w, 0, p_h, 0)), K, stride=_pair(stride))


def _padding_axes_swapped(X, K, padding, stride):
    p_h, p_w = _pair(padding)
    return _conv(X, K, (p_w, p_h), _pair(stride))


def _padding_counted_once(X, K, padding, stride):
    """The right padded input, but (H + p_h - h) // s_h + 1 rows (and so for columns)."""
    (p_h, p_w), (s_h, s_w) = _pair(padding), _pair(stride)
    rows = (X.shape[0] + p_h - K.shape[0]) // s_h + 1
    cols = (X.shape[1] + p_w - K.shape[1]) // s_w + 1
    return _conv(X, K, (p_h, p_w), (s_h, s_w))[:rows, :cols]


def _row_stride_for_columns(X, K, padding, stride):
    """The right output size, but window (i, j) starts at column j * s_h."""
    (p_h, p_w), (s_h, s_w) = _pair(padding), _pair(stride)
    cols = (X.shape[1] + 2 * p_w - K.shape[1]) // s_w + 1
    out = _conv(X, K, (p_h, p_w), (s_h, s_h))
    return out[:, :cols] if out.shape[1] >= cols else None


PADDED_STRIDED_MISTAKES = [
    Mistake("padding_one_side", "zero padding on the top and left only (p_h rows and p_w columns "
            "belong on both sides)", PADDING_AND_STRIDE, _padded_one_side),
    Mistake("padding_axes_swapped", "the padding of the height applied to the width and the other "
            "way round (F.pad takes (left, right, top, bottom))", PADDING_AND_STRIDE, _padding_axes_swapped),
    Mistake("padding_counted_once", "an output size that counts the padding once, (H + p_h - h) // s_h + 1, "
            "instead of twice", PADDING_AND_STRIDE, _padding_counted_once),
    Mistake("stride_rows_for_columns", "the row stride s_h used to move along the columns too",
            PADDING_AND_STRIDE, _row_stride_for_columns),
]


def _per_channel(X, K):
    """corr2d of each input channel with its kernel: (c_i, H', W')."""
    return F.conv2d(X[:, None], K[:, None])[range(X.shape[0]), range(X.shape[0])]


MULTI_IN_MISTAKES = [
    Mistake("channels_averaged", "the input channels averaged instead of summed", INPUT_CHANNELS,
            lambda X, K: _per_channel(X, K).mean(dim=0)),
    Mistake("channels_summed_on_wrong_axis", "the per-channel results summed over the rows "
            "(dim=1) instead of over the channels (dim=0)", INPUT_CHANNELS,
            lambda X, K: _per_channel(X, K).sum(dim=1)),
]


def _over_input_channels(X, K):
    """One output per input channel i, from the kernels K[:, i] (the second axis of K)."""
    outputs = []
    for i in range(K.shape[1]):
        kernels = K[:, i]
        n = min(X.shape[0], kernels.shape[0])  # zip() over channels stops at the shorter
        outputs.append(F.conv2d(X[None, :n], kernels[None, :n])[0, 0])
    return torch.stack(outputs)


MULTI_IN_OUT_MISTAKES = [
    Mistake("output_channels_last", "the output channels stacked along the last axis, (H', W', c_o), "
            "instead of the first", OUTPUT_CHANNELS, lambda X, K: F.conv2d(X[None], K)[0].permute(1, 2, 0)),
    Mistake("output_channels_from_input_axis", "one output per input channel, looping over the second "
            "axis of K (K[:, i]) instead of the first (K[o])", OUTPUT_CHANNELS, _over_input_channels),
]
