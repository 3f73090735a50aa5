# The bias is a 0-d scalar instead of a (1,) tensor. The forward broadcasts it to the same values,
# so no behaviour tells it from a (1,) bias: no check charges it (Conv2D is judged by its outputs).
# loses:
# cell: Conv2D
class Conv2D(nn.Module):
    """A 2-D convolutional layer: corr2d with a learnable kernel, plus a learnable scalar bias."""

    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
