# Correct, written differently: strided slices summed over kernel offsets, einsum for channels.
# loses:
# cell: corr2d_padded_strided
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    p_h, p_w = (padding, padding) if isinstance(padding, int) else tuple(padding)
    s_h, s_w = (stride, stride) if isinstance(stride, int) else tuple(stride)
    h, w = K.shape
    Xp = F.pad(X, (p_w, p_w, p_h, p_h))
    out_h = (Xp.shape[0] - h) // s_h + 1
    out_w = (Xp.shape[1] - w) // s_w + 1
    Y = X.new_zeros((out_h, out_w))
    for a in range(h):
        for b in range(w):
            Y = Y + K[a, b] * Xp[a:a + s_h * (out_h - 1) + 1:s_h, b:b + s_w * (out_w - 1) + 1:s_w]
    return Y
# cell: corr2d_multi_in
def corr2d_multi_in(X, K):
    return sum(corr2d(X[c], K[c]) for c in range(X.shape[0]))
# cell: corr2d_multi_in_out
def corr2d_multi_in_out(X, K):
    return torch.stack([corr2d_multi_in(X, K[o]) for o in range(K.shape[0])])
# cell: corr2d_multi_in_out_1x1
def corr2d_multi_in_out_1x1(X, K):
    c_i, h, w = X.shape
    return torch.einsum("oc,chw->ohw", K[:, :, 0, 0], X)
