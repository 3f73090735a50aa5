# Handles only int settings: a (height, width) pair reaches conv_output_size as a tuple and fails.
# The reference conv2d_macs calls conv2d_output_shape with a kernel pair, so it breaks too.
# loses: test_shape_pairs test_shape_kernel_too_large test_shape_sweep test_macs_course test_macs_batch test_macs_output_size test_macs_groups
# cell: conv2d_output_shape
def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    n, c, h, w = input_shape
    return (n, out_channels,
            conv_output_size(h, kernel_size, stride, padding, dilation),
            conv_output_size(w, kernel_size, stride, padding, dilation))
