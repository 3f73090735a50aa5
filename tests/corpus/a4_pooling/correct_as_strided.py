# A correct solution written differently: fully vectorised with as_strided (a view of every window),
# then one reduction over the window axes.
# loses:
# cell: pool2d
import torch.nn.functional as F

def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    as_pair = lambda v: (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))
    kh, kw = as_pair(kernel_size)
    sh, sw = as_pair(kernel_size if stride is None else stride)
    ph, pw = as_pair(padding)
    if mode not in ('max', 'avg'):
        raise ValueError(f"mode {mode!r} is neither 'max' nor 'avg'")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError("padding is over half the kernel")
    P = F.pad(X, (pw, pw, ph, ph), value=-float('inf') if mode == 'max' else 0.0).contiguous()
    lead = P.shape[:-2]
    H, W = P.shape[-2:]
    h_out, w_out = (H - kh) // sh + 1, (W - kw) // sw + 1
    *lead_strides, s_h, s_w = P.stride()
    windows = P.as_strided((*lead, h_out, w_out, kh, kw),
                           (*lead_strides, s_h * sh, s_w * sw, s_h, s_w))
    flat = windows.reshape(*lead, h_out, w_out, kh * kw)
    return flat.max(dim=-1).values if mode == 'max' else flat.mean(dim=-1)
