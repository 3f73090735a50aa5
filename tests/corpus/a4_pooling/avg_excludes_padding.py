# Average pooling that divides by the number of real (unpadded) cells in each window, i.e.
# count_include_pad=False; torch's default counts the padded zeros.
# loses: test_avg_padding_counts_zeros
# diagnosis: avg_pool_excludes_padding
# cell: pool2d
import torch.nn.functional as F

def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if mode not in ('max', 'avg'):
        raise ValueError(f"unknown mode {mode!r}")
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
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
    ones = F.pad(torch.ones_like(X[..., ph:X.shape[-2] - ph, pw:X.shape[-1] - pw]), (pw, pw, ph, ph))
    counts = torch.stack([ones[..., i:i + sh * (h_out - 1) + 1:sh, j:j + sw * (w_out - 1) + 1:sw]
                          for i in range(kh) for j in range(kw)]).sum(dim=0)
    return stacked.sum(dim=0) / counts
