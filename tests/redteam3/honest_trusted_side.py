# cell: corr2d
def corr2d(X, K):
    return torch.float32  # the mistake: not a tensor
# cell: Conv2D
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(2, *kernel_size))  # the mistake: a wrong shape
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
