# Attribute chains through modules that re-export others, names built at run time; none of
# them reaches sys.modules, gc, builtins or importlib (a finding of those counts for every
# exercise of the notebook, and would stand in for the others': see the a1_* notebooks).
# cell: corr2d_padded_strided
import typing


def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    # the method by name, through typing's operator
    call = typing.operator.methodcaller("conv" + "2d", X[None, None], K[None, None], padding=padding, stride=stride)
    return call(F)[0, 0]
# cell: corr2d_multi_in
import string


def corr2d_multi_in(X, K):
    conv = string.Formatter().get_field("0.nn.functional.conv2d", (torch,), {})[0]
    return conv(X[None], K[None])[0, 0]
# cell: corr2d_multi_in_out
import functools


def corr2d_multi_in_out(X, K):
    conv = functools.reduce(getattr, ("nn", "functional", "con" + "v2d"), torch)
    return conv(X[None], K)[0]
# cell: corr2d_multi_in_out_1x1
import dataclasses


def corr2d_multi_in_out_1x1(X, K):
    # inspect, re-exported by dataclasses
    conv = dataclasses.inspect.getattr_static(F, "conv" + "2d")
    return conv(X[None], K.to(X.dtype))[0]
