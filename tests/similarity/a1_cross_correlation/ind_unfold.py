# loses:
# cell: corr2d
def _windows(X, h, w):
    # every h x w window of X, as a (H - h + 1, W - w + 1, h, w) view
    return X.unfold(0, h, 1).unfold(1, w, 1)


def corr2d(X, K):
    kh, kw = K.shape
    patches = _windows(X, kh, kw)
    return torch.einsum('abij,ij->ab', patches, K.to(X.dtype))
