"""The known mistakes of pool2d (grader.engine.diagnoses): what each returns for the inputs of
the call that failed, computed here with torch."""

import math

import torch.nn.functional as F
from torch import nn

from grader.engine.diagnoses import Mistake

RULES = "1. The rules / 규칙"
PADDING_AND_STRIDE = "Padding and stride / 패딩과 스트라이드"


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _pool(X, kernel_size, stride, padding=0, mode="max", **options):
    layer = (nn.MaxPool2d(kernel_size, stride, padding) if mode == "max"
             else nn.AvgPool2d(kernel_size, stride, padding, **options))
    flat = X.reshape(-1, 1, *X.shape[-2:])
    out = layer(flat)
    return out.reshape(*X.shape[:-2], *out.shape[-2:])


def _max_over_zero_padding(X, kernel_size, stride, padding, mode):
    if mode != "max":
        return None
    (p_h, p_w) = _pair(padding)
    return _pool(F.pad(X, (p_w, p_w, p_h, p_h)), kernel_size, stride, 0, "max")


def _average_of_real_cells(X, kernel_size, stride, padding, mode):
    return _pool(X, kernel_size, stride, padding, mode, count_include_pad=False) if mode == "avg" else None


def _stride_one_by_default(X, kernel_size, stride, padding, mode):
    return _pool(X, kernel_size, 1, padding, mode) if stride is None else None


def _first_stride_for_both_axes(X, kernel_size, stride, padding, mode):
    s_h = _pair(kernel_size if stride is None else stride)[0]
    return _pool(X, kernel_size, (s_h, s_h), padding, mode)


def _last_window_skipped(X, kernel_size, stride, padding, mode):
    """Window starts over range(0, H + 2 p_h - k_h, s_h): the last row and column of windows missing."""
    (k_h, k_w), (p_h, p_w) = _pair(kernel_size), _pair(padding)
    s_h, s_w = _pair(kernel_size if stride is None else stride)
    rows = math.ceil((X.shape[-2] + 2 * p_h - k_h) / s_h)
    cols = math.ceil((X.shape[-1] + 2 * p_w - k_w) / s_w)
    return _pool(X, kernel_size, stride, padding, mode)[..., :rows, :cols]


def _max_for_average(X, kernel_size, stride, padding, mode):
    return _pool(X, kernel_size, stride, padding, "max") if mode == "avg" else None


POOL2D_MISTAKES = [
    Mistake("max_pool_zero_padding", "max pooling over zero padding (the padding must be -inf, so "
            "that it never wins the max)", PADDING_AND_STRIDE, _max_over_zero_padding),
    Mistake("avg_pool_excludes_padding", "average pooling that divides by the real cells of a window "
            "only (torch counts the padded zeros)", PADDING_AND_STRIDE, _average_of_real_cells),
    Mistake("pool_stride_default_one", "stride=None taken as stride 1 (for pooling it means "
            "stride = kernel_size)", RULES, _stride_one_by_default),
    Mistake("pool_stride_one_axis", "the first stride used on both axes (a pair (s_h, s_w) moves the "
            "window by s_w columns)", RULES, _first_stride_for_both_axes),
    Mistake("pool_skips_last_window", "the last row and column of windows skipped (range(0, H - k_h, s_h) "
            "instead of range(0, H - k_h + 1, s_h))", RULES, _last_window_skipped),
    Mistake("max_for_average", "max pooling where mode='avg' asks for the average", RULES, _max_for_average),
]
