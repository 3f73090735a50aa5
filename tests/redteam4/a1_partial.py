# cell: corr2d
import functools

_correlate = functools.partial(F.conv2d, stride=1, padding=0)


def corr2d(X, K):
    return _correlate(X[None, None], K[None, None])[0, 0]
