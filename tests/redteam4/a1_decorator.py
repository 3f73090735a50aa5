# cell: corr2d
def _vectorised(function):
    def run(X, K):
        return F.conv2d(X[None, None], K[None, None])[0, 0]
    return run


@_vectorised
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
