# Iterates over the second axis of K (input channels) instead of the first (output channels).
# loses: test_multi_in_out_worked_example test_multi_in_out_output_shape test_multi_in_out_random
# diagnosis: output_channels_from_input_axis
# cell: corr2d_multi_in_out
def corr2d_multi_in_out(X, K):
    return torch.stack([corr2d_multi_in(X, K[:, i]) for i in range(K.shape[1])], dim=0)
