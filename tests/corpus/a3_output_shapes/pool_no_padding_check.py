# Reuses the convolution rule and never rejects padding larger than half the kernel.
# loses: test_pool_padding_too_large
# diagnosis: pool_no_padding_rule
# cell: pool_output_size
def pool_output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = kernel_size if stride is None else stride
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
