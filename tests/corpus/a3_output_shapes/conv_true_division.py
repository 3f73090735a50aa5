# Uses / instead of //: a stride that does not divide evenly gives a fractional size (29.5).
# loses: test_conv_course_exercises test_conv_dilation test_conv_sweep test_shape_course test_shape_pairs test_shape_sweep test_macs_output_size test_conv_returns_int
# diagnosis: conv_true_division
# cell: conv_output_size
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    out = (n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1
    if out < 1:
        raise ValueError("the kernel does not fit the padded input")
    return out
