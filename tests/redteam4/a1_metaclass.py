# cell: corr2d
class _Correlating(type):
    """Calling the class runs the metaclass's __call__: corr2d(X, K) never builds an instance."""
    def __call__(cls, X, K):
        return F.conv2d(X[None, None], K[None, None])[0, 0]


class corr2d(metaclass=_Correlating):
    pass
