# The forbidden function held in a value: a default argument, a class attribute, a closure
# cell filled from outside, a functools.partial.
# cell: corr2d_padded_strided
import typing


def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1),
                          _apply=typing.operator.attrgetter("nn.functional.conv2d")(torch)):
    return _apply(X[None, None], K[None, None], padding=padding, stride=stride)[0, 0]
# cell: corr2d_multi_in
class _Tools:
    apply = staticmethod(F.conv2d)


def corr2d_multi_in(X, K):
    return _Tools.apply(X[None], K[None])[0, 0]
# cell: corr2d_multi_in_out
def _pair_of_closures():
    op = None

    def corr2d_multi_in_out(X, K):
        return op(X[None], K)[0]

    def arm(function):
        nonlocal op
        op = function
    return corr2d_multi_in_out, arm


corr2d_multi_in_out, _arm = _pair_of_closures()
_arm(F.conv2d)  # a top-level call of a function the exercise never reaches
# cell: corr2d_multi_in_out_1x1
import functools

_correlate = functools.partial(F.conv2d, stride=1, padding=0)


def corr2d_multi_in_out_1x1(X, K):
    return _correlate(X[None], K.to(X.dtype))[0]
