# torch.zeros without device: a CUDA input gives a CPU output (Conv2D then adds a CUDA bias to it).
# needs: cuda
# loses: test_corr2d_keeps_device test_conv2d_forward test_conv2d_gradients
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
