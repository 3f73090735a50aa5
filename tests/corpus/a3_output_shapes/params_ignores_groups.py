# Every filter sees all input channels: groups is ignored.
# loses: test_params_groups
# diagnosis: params_groups_ignored
# cell: conv2d_num_params
def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)
