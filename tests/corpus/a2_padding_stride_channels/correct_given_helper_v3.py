# A correct notebook saved in nbformat 3 whose corr2d_padded_strided uses `out_size` from the
# notebook's own unlocked demonstration cell (run before it, as in Jupyter), with a helper
# `as_pair` in a cell the student added above, and the answer cell's own import.
# saved-as: v3
# loses:
# added-cell: before corr2d_padded_strided
def as_pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
# cell: corr2d_padded_strided
import torch.nn.functional as F


def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    (p_h, p_w), (s_h, s_w) = as_pair(padding), as_pair(stride)
    h, w = K.shape
    X = F.pad(X, (p_w, p_w, p_h, p_h))
    rows = out_size(X.shape[0], h, 0, s_h)
    cols = out_size(X.shape[1], w, 0, s_w)
    Y = torch.zeros((rows, cols), dtype=X.dtype, device=X.device)
    for i in range(rows):
        for j in range(cols):
            Y[i, j] = (X[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum()
    return Y
