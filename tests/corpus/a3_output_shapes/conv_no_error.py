# Never checks that the kernel fits: returns 0 or a negative size instead of raising.
# loses: test_conv_kernel_too_large test_conv_sweep test_shape_kernel_too_large test_shape_sweep
# cell: conv_output_size
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
