# Preallocates the output with torch.zeros without dtype: float64 in, float32 out.
# loses: test_multi_in_out_dtype_device
# cell: corr2d_multi_in_out
def corr2d_multi_in_out(X, K):
    c_o, _, h, w = K.shape
    Y = torch.zeros((c_o, X.shape[1] - h + 1, X.shape[2] - w + 1), device=X.device)
    for o in range(c_o):
        Y[o] = corr2d_multi_in(X, K[o])
    return Y
