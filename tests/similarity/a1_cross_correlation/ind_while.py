# loses:
# cell: corr2d
def corr2d(X, K):
    n_rows = X.shape[0] - K.shape[0] + 1
    n_cols = X.shape[1] - K.shape[1] + 1
    result = X.new_zeros((n_rows, n_cols))
    r = 0
    while r < n_rows:
        c = 0
        while c < n_cols:
            acc = X.new_zeros(())
            for u in range(K.shape[0]):
                for v in range(K.shape[1]):
                    acc = acc + X[r + u, c + v] * K[u, v]
            result[r, c] = acc
            c += 1
        r += 1
    return result
# cell: Conv2D
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(kernel_size) * 0.1)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = corr2d(x, self.weight)
        return out + self.bias
