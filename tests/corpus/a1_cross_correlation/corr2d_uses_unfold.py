# Correct values, but the windows come from Tensor.unfold, which the exercise forbids.
# loses: test_corr2d_no_builtin_conv
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    windows = X.unfold(0, h, 1).unfold(1, w, 1)   # (H - h + 1, W - w + 1, h, w)
    return (windows * K).sum(dim=(-2, -1))
