# Accumulates into torch.zeros without dtype: float64 channels are added into a float32 tensor.
# loses: test_multi_in_dtype_device
# cell: corr2d_multi_in
def corr2d_multi_in(X, K):
    Y = torch.zeros((X.shape[1] - K.shape[1] + 1, X.shape[2] - K.shape[2] + 1), device=X.device)
    for c in range(X.shape[0]):
        Y += corr2d(X[c], K[c])
    return Y
