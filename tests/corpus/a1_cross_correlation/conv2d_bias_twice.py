# Adds the bias twice: once into the output of corr2d, and again on return.
# loses: test_conv2d_forward test_conv2d_gradients test_conv2d_parameters_registered
# diagnosis: conv2d_bias_twice
# cell: Conv2D
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        y = corr2d(x, self.weight) + self.bias
        return y + self.bias
