# Divides the padded length by the stride and never subtracts the kernel's span.
# The reference conv2d_output_shape and conv2d_macs reuse conv_output_size, so they are wrong too.
# loses: test_conv_course_exercises test_conv_dilation test_conv_kernel_too_large test_conv_sweep test_shape_course test_shape_pairs test_shape_kernel_too_large test_shape_sweep test_macs_course test_macs_batch test_macs_output_size test_macs_groups
# diagnosis: conv_kernel_not_subtracted
# cell: conv_output_size
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    if dilation * (kernel_size - 1) + 1 > n + 2 * padding:
        raise ValueError("the kernel does not fit the padded input")
    return (n + 2 * padding) // stride + 1
