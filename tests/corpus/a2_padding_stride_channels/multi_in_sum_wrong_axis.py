# Stacks the per-channel results and sums over dim=1 (the rows) instead of dim=0 (the channels).
# loses: test_multi_in_worked_example test_multi_in_output_shape test_multi_in_random
# diagnosis: channels_summed_on_wrong_axis
# cell: corr2d_multi_in
def corr2d_multi_in(X, K):
    return torch.stack([corr2d(x, k) for x, k in zip(X, K)]).sum(dim=1)
