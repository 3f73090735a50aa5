# The bias is a 0-d scalar instead of a (1,) tensor (the forward still broadcasts fine).
# loses: test_conv2d_bias_shape
# cell: Conv2D
class Conv2D(nn.Module):
    """A 2-D convolutional layer: corr2d with a learnable kernel, plus a learnable scalar bias."""

    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
