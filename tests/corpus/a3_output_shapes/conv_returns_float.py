# The right size, but as a float: floor division of a float (n / 1.0) gives 5.0 for 5.
# loses: test_conv_returns_int
# cell: conv_output_size
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1
    out = (float(n) + 2 * padding - span) // stride + 1
    if out < 1:
        raise ValueError("the kernel does not fit the padded input")
    return out
