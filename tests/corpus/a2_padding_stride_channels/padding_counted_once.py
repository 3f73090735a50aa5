# The padded input is right, but the output size counts the padding once: (H + p - h) // s + 1.
# loses: test_padded_strided_worked_examples test_padded_strided_padding_both_sides test_padded_strided_random
# diagnosis: padding_counted_once
# cell: corr2d_padded_strided
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    """2-D cross-correlation of X (H, W) with K (h, w), with zero padding and a stride."""
    p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    H, W = X.shape
    h, w = K.shape
    Xp = torch.zeros((H + 2 * p_h, W + 2 * p_w), dtype=X.dtype, device=X.device)
    Xp[p_h:p_h + H, p_w:p_w + W] = X
    out_h = (H + p_h - h) // s_h + 1
    out_w = (W + p_w - w) // s_w + 1
    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            Y[i, j] = (Xp[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum()
    return Y
