# cell: pool2d
# include: _pool_frame
import pydoc


def _as_module(name):
    layer_class = pydoc.locate("torch.nn." + name)
    return lambda x, k, s, p: layer_class(k, s, p)(x)


def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    return _pooled(_as_module("Max" + "Pool2d"), _as_module("Avg" + "Pool2d"), X, kernel_size, stride, padding, mode)
