# loses:
# cell: corr2d
def output_size(n, k):
    return n - k + 1


def shifted(X, a, b, rows, cols):
    return X[a:a + rows, b:b + cols]


def corr2d(X, K):
    rows = output_size(X.shape[0], K.shape[0])
    cols = output_size(X.shape[1], K.shape[1])
    total = torch.zeros(rows, cols, dtype=X.dtype, device=X.device)
    for a in range(K.shape[0]):
        for b in range(K.shape[1]):
            total = total + K[a, b] * shifted(X, a, b, rows, cols)
    return total
