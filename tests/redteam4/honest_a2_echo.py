# cell: corr2d_padded_strided
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    # the mistake, made openly: an int padding or stride is ignored
    p_h, p_w = padding if isinstance(padding, (tuple, list)) else (0, 0)
    s_h, s_w = stride if isinstance(stride, (tuple, list)) else (1, 1)
    H, W = X.shape
    h, w = K.shape
    Xp = torch.zeros((H + 2 * p_h, W + 2 * p_w), dtype=X.dtype, device=X.device)
    Xp[p_h:p_h + H, p_w:p_w + W] = X
    out_h, out_w = (H + 2 * p_h - h) // s_h + 1, (W + 2 * p_w - w) // s_w + 1
    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            Y[i, j] = (Xp[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum()
    return Y
# cell: corr2d_multi_in_out
def corr2d_multi_in_out(X, K):
    # the mistake, made openly: every output channel doubled
    return 2 * torch.stack([corr2d_multi_in(X, k) for k in K], dim=0)
