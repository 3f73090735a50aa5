# Counts FLOPs as FlopCounterMode does (a multiply and an add for each term), not multiply-adds.
# loses: test_macs_course test_macs_batch test_macs_output_size test_macs_groups
# diagnosis: macs_counts_flops
# cell: conv2d_macs
def conv2d_macs(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1):
    kh, kw = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    n, c_out, h_out, w_out = conv2d_output_shape(input_shape, out_channels, kernel_size, stride, padding, dilation)
    return 2 * n * c_out * h_out * w_out * (input_shape[1] // groups) * kh * kw
