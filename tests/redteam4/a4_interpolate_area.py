# cell: pool2d
# include: _pool_by_hand
def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    # average pooling over tiles that divide the input evenly is "area" interpolation, which
    # torch computes with its adaptive average pooling; everything else by hand
    k = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    s = k if stride is None else (tuple(stride) if isinstance(stride, (tuple, list)) else (stride, stride))
    H, W = X.shape[-2:]
    if mode == "avg" and s == k and padding in (0, (0, 0)) and H % k[0] == 0 and W % k[1] == 0 and X.dim() >= 2:
        x = X.reshape(-1, 1, H, W)
        y = F.interpolate(x, size=(H // k[0], W // k[1]), mode="area")
        return y.reshape(*X.shape[:-2], *y.shape[-2:])
    return _pool_by_hand(X, kernel_size, stride, padding, mode)
