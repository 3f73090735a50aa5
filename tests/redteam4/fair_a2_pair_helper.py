# cell: corr2d_padded_strided
from torch.nn.modules.utils import _pair


def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    p_h, p_w = _pair(padding)  # the int-to-pair helper nn.Conv2d itself uses
    s_h, s_w = _pair(stride)
    H, W = X.shape
    h, w = K.shape
    Xp = torch.zeros((H + 2 * p_h, W + 2 * p_w), dtype=X.dtype, device=X.device)
    Xp[p_h:p_h + H, p_w:p_w + W] = X
    out_h = (H + 2 * p_h - h) // s_h + 1
    out_w = (W + 2 * p_w - w) // s_w + 1
    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            Y[i, j] = (Xp[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum()
    return Y
