# cell: corr2d
def corr2d(X, K):
    # every window as a strided view of X, each multiplied by K and summed
    h, w = K.shape
    rows, cols = X.shape[0] - h + 1, X.shape[1] - w + 1
    windows = X.as_strided((rows, cols, h, w), (X.stride(0), X.stride(1), X.stride(0), X.stride(1)))
    return (windows * K).sum(dim=(-2, -1))
