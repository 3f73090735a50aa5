# Uses the plain formula with kernel_size: dilation is accepted but ignored.
# loses: test_conv_dilation test_conv_sweep test_shape_pairs test_shape_sweep test_macs_output_size
# diagnosis: conv_dilation_ignored
# cell: conv_output_size
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    out = (n + 2 * padding - kernel_size) // stride + 1
    if out < 1:
        raise ValueError("the kernel does not fit the padded input")
    return out
