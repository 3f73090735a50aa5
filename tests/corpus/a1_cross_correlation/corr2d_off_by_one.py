# Output one row and one column too small: range(H - h) instead of H - h + 1.
# loses: test_corr2d_output_shape test_corr2d_worked_example test_corr2d_random_values
# diagnosis: corr2d_one_short
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h, X.shape[1] - w), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
