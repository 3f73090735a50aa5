"""What the a1 and a2 suites (both grade cross-correlation) share beyond grader.engine.checks:
torch's references, the names that would hand the windowed sums to torch, and what lets a
composite (Conv2D, pool2d) be judged where corr2d's usual mistakes cannot show.
"""

import torch
import torch.nn.functional as F

from grader.engine.checks import agree, tolerance

# Names whose use turns corr2d into a call of torch's own convolution (or of a pooling
# layer, which computes a windowed sum as well). Tensor.unfold / F.unfold included.
FORBIDDEN = ["conv2d", "Conv2d", "conv1d", "Conv1d", "conv3d", "convolution", "_convolution",
             "conv_transpose2d", "ConvTranspose2d", "unfold", "Unfold",
             "avg_pool2d", "AvgPool2d", "lp_pool2d", "correlate", "correlate2d", "convolve",
             "convolve2d", "fftconvolve"]
FORBIDDEN_REASON = ("the point of this exercise is to compute the windowed sums yourself; "
                    "torch's convolution, unfold and pooling functions are not allowed here")


def ref_corr2d(X, K):
    """torch's cross-correlation of a 2-D X with a 2-D K."""
    return F.conv2d(X[None, None], K[None, None])[0, 0]


def ref_conv_flipped(X, K):
    """The mathematical convolution: cross-correlation with the kernel turned by 180 degrees."""
    return ref_corr2d(X, torch.flip(K, dims=(0, 1)))


def half_turn_symmetric(K):
    """K plus K turned by 180 degrees: a kernel for which cross-correlation and convolution agree,
    so a flipped kernel (corr2d's own check) does not change a result judged with it."""
    return K + torch.flip(K, dims=(0, 1))


def interior_close(actual, expected):
    """`actual` agrees with torch's `expected` on every output position but the last row and
    column, and has at most one row and column fewer: what a corr2d gives whose only mistakes
    are in its output size or its borders (corr2d's own checks). Float32 tolerance, NaN never."""
    if not isinstance(actual, torch.Tensor) or actual.dim() != 2 or expected.dim() != 2:
        return False
    rows, cols = (min(int(a), int(e)) for a, e in zip(actual.shape, expected.shape))
    if rows < expected.shape[0] - 1 or cols < expected.shape[1] - 1 or rows < 2 or cols < 2:
        return False
    a = actual.detach().cpu().double()[:rows - 1, :cols - 1]
    e = expected.detach().cpu().double()[:rows - 1, :cols - 1]
    return bool(agree(a, e, **tolerance(torch.float32)).all())
