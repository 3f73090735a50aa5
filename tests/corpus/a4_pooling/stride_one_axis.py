# Uses the first stride for both axes: a (sh, sw) pair moves the window by sh columns too
# (and stride=None with a (kh, kw) kernel becomes (kh, kh)).
# loses: test_stride_per_axis test_default_stride
# diagnosis: pool_stride_one_axis
# cell: pool2d
import torch.nn.functional as F

def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if mode not in ('max', 'avg'):
        raise ValueError(f"unknown mode {mode!r}")
    kh, kw = pair(kernel_size)
    sh = sw = pair(kernel_size if stride is None else stride)[0]
    ph, pw = pair(padding)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError("padding should be at most half of the kernel size")
    h_out = (X.shape[-2] + 2 * ph - kh) // sh + 1
    w_out = (X.shape[-1] + 2 * pw - kw) // sw + 1
    X = F.pad(X, (pw, pw, ph, ph), value=float('-inf') if mode == 'max' else 0.0)
    taps = [X[..., i:i + sh * (h_out - 1) + 1:sh, j:j + sw * (w_out - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]
    stacked = torch.stack(taps)
    if mode == 'max':
        return stacked.max(dim=0).values
    return stacked.sum(dim=0) / (kh * kw)
