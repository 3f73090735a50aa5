# cell: pool2d
# include: _pool_frame
def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    return _pooled(F.max_pool2d, F.avg_pool2d, X, kernel_size, stride, padding, mode)
