# Counts the weights only: the bias parameters are forgotten.
# loses: test_params_course test_params_groups test_params_no_bias test_params_rect_kernel
# diagnosis: params_bias_forgotten
# cell: conv2d_num_params
def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kh, kw = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    if in_channels % groups or out_channels % groups:
        raise ValueError("in_channels and out_channels must be divisible by groups")
    return out_channels * (in_channels // groups) * kh * kw
