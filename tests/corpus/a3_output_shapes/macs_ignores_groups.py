# Every output element is a dot product over all input channels: groups is ignored.
# loses: test_macs_groups
# diagnosis: macs_groups_ignored
# cell: conv2d_macs
def conv2d_macs(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1):
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    n, c_out, h_out, w_out = conv2d_output_shape(input_shape, out_channels, kernel_size, stride, padding, dilation)
    return n * c_out * h_out * w_out * input_shape[1] * kh * kw
