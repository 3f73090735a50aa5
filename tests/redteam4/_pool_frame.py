def _pooled(max_pool, avg_pool, X, kernel_size, stride, padding, mode):
    """pool2d's argument rules written out; the windows themselves left to max_pool/avg_pool
    (called as F.max_pool2d / F.avg_pool2d are, on a 4-D input)."""
    def pair(v):
        return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    if X.dim() < 2:
        raise ValueError("X must have at least two dimensions")
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    p = pair(padding)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError("padding must be at most half the window")
    lead = X.shape[:-2]
    x = X.reshape(-1, 1, *X.shape[-2:])
    y = max_pool(x, k, s, p) if mode == "max" else avg_pool(x, k, s, p)
    return y.reshape(*lead, *y.shape[-2:])
