# Right output shape, but the loops stop one short and leave the last row and column at 0.
# loses: test_corr2d_fills_every_position test_corr2d_worked_example test_corr2d_random_values
# diagnosis: corr2d_last_row_column_zero
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(X.shape[0] - h):
        for j in range(X.shape[1] - w):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
