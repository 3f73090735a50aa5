# Accepts ceil_mode but always rounds down.
# loses: test_pool_ceil_mode test_pool_sweep
# diagnosis: pool_ceil_mode_ignored
# cell: pool_output_size
def pool_output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = kernel_size if stride is None else stride
    if padding > kernel_size // 2:
        raise ValueError("pad should be at most half of the kernel size")
    out = (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError("output size is too small")
    return out
