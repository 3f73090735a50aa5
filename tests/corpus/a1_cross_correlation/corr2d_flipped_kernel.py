# The textbook convolution: the kernel is turned by 180 degrees first.
# loses: test_corr2d_not_flipped test_corr2d_worked_example test_corr2d_random_values
# diagnosis: corr2d_flipped_kernel
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    K_flipped = torch.flip(K, dims=(0, 1))
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K_flipped).sum()
    return Y
