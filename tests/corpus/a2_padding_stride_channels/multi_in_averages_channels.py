# Averages the per-channel results instead of adding them up (mean over the channels, not sum).
# loses: test_multi_in_worked_example test_multi_in_random
# diagnosis: channels_averaged
# cell: corr2d_multi_in
def corr2d_multi_in(X, K):
    return torch.stack([corr2d(x, k) for x, k in zip(X, K)]).mean(dim=0)
