# .item() turns every window sum into a Python float: right values, no gradient to X, K (or Conv2D's weight).
# loses: test_corr2d_gradients test_conv2d_gradients
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum().item()
    return Y
