# Treats a (kh, kw) kernel_size as kh x kh.
# loses: test_params_rect_kernel
# diagnosis: params_square_kernel
# cell: conv2d_num_params
def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
    if in_channels % groups or out_channels % groups:
        raise ValueError("in_channels and out_channels must be divisible by groups")
    return out_channels * (in_channels // groups) * k * k + (out_channels if bias else 0)
