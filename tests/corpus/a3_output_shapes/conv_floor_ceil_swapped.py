# Rounds up where the formula rounds down: math.ceil keeps a last window that does not fit.
# The reference conv2d_output_shape and conv2d_macs reuse conv_output_size, so they are wrong too.
# loses: test_conv_course_exercises test_conv_dilation test_conv_kernel_too_large test_conv_sweep test_shape_course test_shape_pairs test_shape_sweep test_macs_output_size
# diagnosis: conv_floor_ceil_swapped
# cell: conv_output_size
import math


def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    out = math.ceil((n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
    if out < 1:
        raise ValueError("the kernel does not fit the padded input")
    return out
