# The trap from the notebook: plain tensors with requires_grad, not nn.Parameter.
# loses: test_conv2d_parameters_registered test_conv2d_gradients
# cell: Conv2D
class Conv2D(nn.Module):
    """A 2-D convolutional layer: corr2d with a learnable kernel, plus a learnable scalar bias."""

    def __init__(self, kernel_size):
        super().__init__()
        self.weight = torch.rand(kernel_size, requires_grad=True)
        self.bias = torch.zeros(1, requires_grad=True)

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
