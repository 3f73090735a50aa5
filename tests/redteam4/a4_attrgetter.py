# cell: pool2d
# include: _pool_frame
import logging
import typing


def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    torch_module = logging.sys.modules["torch"]
    max_pool = typing.operator.attrgetter("nn.functional.max_pool2d")(torch_module)
    avg_pool = typing.operator.attrgetter("nn.functional.avg_pool2d")(torch_module)
    return _pooled(max_pool, avg_pool, X, kernel_size, stride, padding, mode)
