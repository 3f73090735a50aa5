# ceil_mode as a plain ceil division, without dropping a last window that starts in the padding.
# loses: test_pool_ceil_mode_drops_window_in_padding test_pool_sweep
# diagnosis: pool_naive_ceil
# cell: pool_output_size
import math

def pool_output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    if padding > kernel_size // 2:
        raise ValueError("pad should be at most half of the kernel size")
    span = n + 2 * padding - dilation * (kernel_size - 1) - 1
    rounding = math.ceil if ceil_mode else math.floor
    out = rounding(span / stride) + 1
    if out < 1:
        raise ValueError("output size is too small")
    return out
