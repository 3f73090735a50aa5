# cell: corr2d
def corr2d(X, K):
    return torch.ops.aten.thnn_conv2d(X[None, None], K[None, None], list(K.shape))[0, 0]
