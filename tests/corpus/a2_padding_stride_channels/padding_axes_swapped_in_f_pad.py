# F.pad takes (left, right, top, bottom): this pads the width by p_h and the height by p_w,
# which is only right when p_h == p_w.
# loses: test_padded_strided_padding_both_sides test_padded_strided_random
# diagnosis: padding_axes_swapped
# cell: corr2d_padded_strided
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    """2-D cross-correlation of X (H, W) with K (h, w), with zero padding and a stride."""
    p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    H, W = X.shape
    h, w = K.shape
    Xp = F.pad(X, (p_h, p_h, p_w, p_w))
    out_h = (Xp.shape[0] - h) // s_h + 1
    out_w = (Xp.shape[1] - w) // s_w + 1
    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            Y[i, j] = (Xp[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum()
    return Y
