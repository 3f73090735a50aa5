# The pooling window's span ignores dilation.
# loses: test_pool_ceil_mode test_pool_dilation test_pool_sweep
# diagnosis: pool_size_dilation_ignored
# cell: pool_output_size
def pool_output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    k = kernel_size
    s = k if stride is None else stride
    if padding > k // 2:
        raise ValueError("pad should be at most half of the kernel size")
    span = n + 2 * padding - (k - 1) - 1
    out = (-((-span) // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + padding:
        out -= 1
    if out < 1:
        raise ValueError("output too small")
    return out
