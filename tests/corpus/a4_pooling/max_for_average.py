# Takes the maximum of every window whatever the mode: mode='avg' gives max pooling.
# loses: test_course_examples test_avg_random test_default_stride test_stride_per_axis test_avg_padding_counts_zeros test_leading_dims test_gradients test_does_not_modify_input
# diagnosis: max_for_average
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
    X = F.pad(X, (pw, pw, ph, ph), value=float('-inf'))
    taps = [X[..., i:i + sh * (h_out - 1) + 1:sh, j:j + sw * (w_out - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]
    return torch.stack(taps).max(dim=0).values
