# loses:
# cell: corr2d
def corr2d(X, K):
    X = X.contiguous()
    kh, kw = K.shape
    out_shape = (X.size(0) - kh + 1, X.size(1) - kw + 1, kh, kw)
    s0, s1 = X.stride()
    view = torch.as_strided(X, size=out_shape, stride=(s0, s1, s0, s1))
    return (view * K.to(X.dtype)).sum(dim=(-2, -1))
