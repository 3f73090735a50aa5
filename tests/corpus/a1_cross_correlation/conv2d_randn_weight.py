# Weight from torch.randn (normal) instead of torch.rand ([0, 1)) as the exercise asks.
# loses: test_conv2d_initial_values
# cell: Conv2D
class Conv2D(nn.Module):
    """A 2-D convolutional layer: corr2d with a learnable kernel, plus a learnable scalar bias."""

    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
