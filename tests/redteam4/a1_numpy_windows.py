# cell: corr2d
import numpy as np


def corr2d(X, K):
    # NumPy's sliding windows: right values, no gradients
    windows = np.lib.stride_tricks.sliding_window_view(X.detach().cpu().numpy(), tuple(K.shape))
    values = (windows * K.detach().cpu().numpy()).sum(axis=(-2, -1))
    return torch.as_tensor(values, dtype=X.dtype, device=X.device)
