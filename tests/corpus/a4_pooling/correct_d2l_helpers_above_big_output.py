# The example: d2l's pool2d (7.5, "Pooling") adapted to the contract (stride, padding,
# leading dimensions, dtype), with its helpers `_pair` and `_out_len` in a cell the student
# added above the answer, and a 7 MiB plot saved as the output of the answer cell.
# output: pool2d 7
# loses:
# added-cell: before pool2d
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _out_len(n, k, s, p):
    return (n + 2 * p - k) // s + 1
# cell: pool2d
def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    p_h, p_w = _pair(kernel_size)
    s_h, s_w = _pair(stride if stride is not None else kernel_size)
    pad_h, pad_w = _pair(padding)
    if mode not in ('max', 'avg') or pad_h > p_h // 2 or pad_w > p_w // 2:
        raise ValueError(f"mode must be 'max' or 'avg' and padding at most half the kernel")
    fill = float('-inf') if mode == 'max' else 0.0
    X = torch.nn.functional.pad(X, (pad_w, pad_w, pad_h, pad_h), value=fill)
    rows = _out_len(X.shape[-2], p_h, s_h, 0)
    cols = _out_len(X.shape[-1], p_w, s_w, 0)
    Y = torch.zeros(X.shape[:-2] + (rows, cols), dtype=X.dtype, device=X.device)
    for i in range(rows):
        for j in range(cols):
            window = X[..., i * s_h: i * s_h + p_h, j * s_w: j * s_w + p_w]
            if mode == 'max':
                Y[..., i, j] = window.amax(dim=(-2, -1))
            elif mode == 'avg':
                Y[..., i, j] = window.mean(dim=(-2, -1))
    return Y
