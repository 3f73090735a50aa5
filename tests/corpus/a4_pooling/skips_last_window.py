# Off by one: the window starts run over range(0, H - kh, sh) instead of range(0, H - kh + 1, sh),
# so the last row and column of windows are never visited.
# loses: test_course_examples test_max_random test_avg_random test_default_stride test_stride_per_axis test_max_padding_is_minus_inf test_avg_padding_counts_zeros test_leading_dims test_gradients
# diagnosis: pool_skips_last_window
# cell: pool2d
import torch.nn.functional as F

def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    if stride is None:
        stride = (kh, kw)
    sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
    ph, pw = padding if isinstance(padding, tuple) else (padding, padding)
    if mode not in ('max', 'avg') or ph > kh // 2 or pw > kw // 2:
        raise ValueError("bad mode or padding")
    X = F.pad(X, (pw, pw, ph, ph), value=float('-inf') if mode == 'max' else 0.0)
    rows = []
    for r in range(0, X.shape[-2] - kh, sh):
        row = []
        for c in range(0, X.shape[-1] - kw, sw):
            window = X[..., r:r + kh, c:c + kw]
            row.append(window.amax(dim=(-2, -1)) if mode == 'max' else window.mean(dim=(-2, -1)))
        rows.append(torch.stack(row, dim=-1))
    return torch.stack(rows, dim=-2)
