"""The known mistakes of a1's exercises (grader.engine.diagnoses): what each returns for the
inputs of the call that failed, computed here with torch."""

import torch

from grader.engine.diagnoses import Mistake

from .._corr2d_support import ref_conv_flipped, ref_corr2d

BY_HAND = "2. Cross-correlation by hand"
CORR2D = "3. Exercise: `corr2d`"
CONV2D = "4. Exercise: the `Conv2D` layer"


def _last_row_and_column_zero(X, K):
    out = ref_corr2d(X, K).clone()
    out[-1, :] = 0
    out[:, -1] = 0
    return out


CORR2D_MISTAKES = [
    Mistake("corr2d_flipped_kernel", "a kernel turned by 180 degrees (the textbook convolution, "
            "not cross-correlation)", BY_HAND, ref_conv_flipped),
    Mistake("corr2d_one_short", "an output one row and one column short (range(H - h) instead of "
            "range(H - h + 1))", CORR2D, lambda X, K: ref_corr2d(X, K)[:-1, :-1]),
    Mistake("corr2d_last_row_column_zero", "loops that stop one short and leave the last row and "
            "column of the output at zero", CORR2D, _last_row_and_column_zero),
    Mistake("corr2d_transposed", "an output transposed (rows and columns swapped)", CORR2D,
            lambda X, K: ref_corr2d(X, K).T),
]

CONV2D_MISTAKES = [
    Mistake("conv2d_missing_bias", "a forward that leaves out the bias (corr2d(x, weight) alone)", CONV2D,
            lambda x, weight, bias: ref_corr2d(x, weight)),
    Mistake("conv2d_bias_twice", "a forward that adds the bias twice", CONV2D,
            lambda x, weight, bias: ref_corr2d(x, weight) + 2 * bias),
]
