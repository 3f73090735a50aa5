# A correct solution written differently: a loop over output pixels, reducing each window with
# amax / mean over the last two dimensions, the output assembled with torch.stack.
# loses:
# cell: pool2d
import torch.nn.functional as F

def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    if mode not in ('max', 'avg'):
        raise ValueError("mode must be 'max' or 'avg'")
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if stride is None:
        stride = (kh, kw)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError("padding must be at most half of the kernel size")
    fill = float('-inf') if mode == 'max' else 0.0
    P = F.pad(X, (pw, pw, ph, ph), value=fill)
    H, W = P.shape[-2], P.shape[-1]
    rows = []
    for top in range(0, H - kh + 1, sh):
        row = []
        for left in range(0, W - kw + 1, sw):
            window = P[..., top:top + kh, left:left + kw]
            row.append(window.amax(dim=(-2, -1)) if mode == 'max' else window.sum(dim=(-2, -1)) / (kh * kw))
        rows.append(torch.stack(row, dim=-1))
    return torch.stack(rows, dim=-2)
