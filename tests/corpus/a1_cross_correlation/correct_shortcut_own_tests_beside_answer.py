# Correct, with the student's own checks against torch beside the answer: an import line that
# names conv2d (corr2d uses only pad), a comparison with conv2d below the def in the answer
# cell, a global Y made by F.conv2d in the next cell (corr2d's Y is its own local).
# None of it is code corr2d reaches, so none of it is held against the student.
# loses:
# cell: corr2d
from torch.nn.functional import pad, conv2d


def corr2d(X, K):
    h, w = K.shape
    Xp = pad(X, (0, 0, 0, 0))
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (Xp[i:i + h, j:j + w] * K).sum()
    return Y


X_mine, K_mine = torch.randn(6, 7), torch.randn(2, 3)
print(torch.allclose(corr2d(X_mine, K_mine), conv2d(X_mine[None, None], K_mine[None, None])[0, 0], atol=1e-6))
# added-cell: after corr2d
Y = F.conv2d(X_mine[None, None], K_mine[None, None])[0, 0]
print("largest difference:", (corr2d(X_mine, K_mine) - Y).abs().max().item())
