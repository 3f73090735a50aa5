# Counts the multiply-adds of one image and forgets the batch size N.
# loses: test_macs_batch
# diagnosis: macs_batch_ignored
# cell: conv2d_macs
def conv2d_macs(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1):
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    _, c_out, h_out, w_out = conv2d_output_shape(input_shape, out_channels, kernel_size, stride, padding, dilation)
    return c_out * h_out * w_out * (input_shape[1] // groups) * kh * kw
