# Never checks that the kernel fits: returns 0 or a negative size instead of raising. The
# reference conv2d_output_shape reuses it: that missing ValueError is charged once, here.
# loses: test_conv_kernel_too_large
# diagnosis: conv_no_fit_check
# cell: conv_output_size
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
