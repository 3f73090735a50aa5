# cell: corr2d
class _Tools:
    apply = staticmethod(F.conv2d)


def corr2d(X, K):
    return _Tools.apply(X[None, None], K[None, None])[0, 0]
