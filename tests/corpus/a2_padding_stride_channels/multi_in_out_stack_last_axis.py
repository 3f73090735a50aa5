# Stacks the output channels along the last axis: shape (H', W', c_o) instead of (c_o, H', W').
# loses: test_multi_in_out_worked_example test_multi_in_out_output_shape test_multi_in_out_random
# diagnosis: output_channels_last
# cell: corr2d_multi_in_out
def corr2d_multi_in_out(X, K):
    return torch.stack([corr2d_multi_in(X, k) for k in K], dim=-1)
