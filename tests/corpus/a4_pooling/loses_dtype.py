# Allocates the output with torch.zeros(..., device=X.device) but no dtype: float64 inputs
# come back as float32.
# loses: test_keeps_dtype
# cell: pool2d
import torch.nn.functional as F

def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    sh, sw = (kh, kw) if stride is None else (stride if isinstance(stride, tuple) else (stride, stride))
    ph, pw = padding if isinstance(padding, tuple) else (padding, padding)
    if mode not in ('max', 'avg'):
        raise ValueError(f"unknown mode {mode!r}")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError("padding should be at most half of the kernel size")
    X = F.pad(X, (pw, pw, ph, ph), value=float('-inf') if mode == 'max' else 0.0)
    h_out = (X.shape[-2] - kh) // sh + 1
    w_out = (X.shape[-1] - kw) // sw + 1
    Y = torch.zeros(*X.shape[:-2], h_out, w_out, device=X.device)
    for i in range(h_out):
        for j in range(w_out):
            window = X[..., i * sh:i * sh + kh, j * sw:j * sw + kw]
            Y[..., i, j] = window.amax(dim=(-2, -1)) if mode == 'max' else window.mean(dim=(-2, -1))
    return Y
