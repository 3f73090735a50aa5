# Correct values with Tensor.unfold (sliding windows), which the exercise forbids.
# A forbidden shortcut voids every check of the exercise (course.toml [policy], the default).
# loses: test_course_examples test_max_random test_avg_random test_default_stride test_stride_per_axis test_max_padding_is_minus_inf test_avg_padding_counts_zeros test_leading_dims test_keeps_dtype test_keeps_device test_gradients test_does_not_modify_input test_rejects_bad_arguments test_no_torch_pooling
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
    windows = X.unfold(-2, kh, sh).unfold(-2, kw, sw)       # (..., h_out, w_out, kh, kw)
    if mode == 'max':
        return windows.amax(dim=(-2, -1))
    return windows.mean(dim=(-2, -1))
