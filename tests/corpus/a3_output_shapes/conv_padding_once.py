# Adds the padding once (n + p): the padding on the other side is forgotten.
# The reference conv2d_output_shape and conv2d_macs reuse conv_output_size, so they are wrong too.
# loses: test_conv_course_exercises test_conv_dilation test_conv_kernel_too_large test_conv_sweep test_shape_course test_shape_pairs test_shape_kernel_too_large test_shape_sweep test_macs_course test_macs_batch test_macs_output_size test_macs_groups
# diagnosis: conv_padding_once
# cell: conv_output_size
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    out = (n + padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError("the kernel does not fit the padded input")
    return out
