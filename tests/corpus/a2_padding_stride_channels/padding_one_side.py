# Zeros added only on the top and the left (the padded input is p smaller than it should be).
# loses: test_padded_strided_worked_examples test_padded_strided_padding_both_sides test_padded_strided_random
# diagnosis: padding_one_side
# cell: corr2d_padded_strided
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    """2-D cross-correlation of X (H, W) with K (h, w), with zero padding and a stride."""
    p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    H, W = X.shape
    h, w = K.shape
    Xp = torch.zeros((H + p_h, W + p_w), dtype=X.dtype, device=X.device)
    Xp[p_h:, p_w:] = X
    out_h = (Xp.shape[0] - h) // s_h + 1
    out_w = (Xp.shape[1] - w) // s_w + 1
    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            Y[i, j] = (Xp[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum()
    return Y
