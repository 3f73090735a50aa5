# Always adds one bias per filter, even with bias=False.
# loses: test_params_no_bias
# diagnosis: params_bias_always
# cell: conv2d_num_params
def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    if in_channels % groups or out_channels % groups:
        raise ValueError("channels must be divisible by groups")
    return out_channels * (in_channels // groups) * kh * kw + out_channels
