# Treats stride=None as stride 1 (a convolution's default) instead of stride = kernel_size.
# loses: test_pool_default_stride test_pool_ceil_mode test_pool_sweep
# diagnosis: pool_size_stride_default_one
# cell: pool_output_size
def pool_output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    if stride is None:
        stride = 1
    if padding > kernel_size // 2:
        raise ValueError("pad should be at most half of the kernel size")
    span = n + 2 * padding - dilation * (kernel_size - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= n + padding:
            out -= 1
    else:
        out = span // stride + 1
    if out < 1:
        raise ValueError("output size is too small")
    return out
