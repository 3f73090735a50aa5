# Counts the multiply-adds over the input's H x W instead of the output's H' x W'.
# loses: test_macs_course test_macs_batch test_macs_output_size test_macs_groups
# diagnosis: macs_input_size
# cell: conv2d_macs
def conv2d_macs(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1):
    kh, kw = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    n, c_in, h, w = input_shape
    return n * out_channels * h * w * (c_in // groups) * kh * kw
