# Attack: a Conv2D whose forward is all NaN (of the right shape, attached to both parameters).
# NaN never passes a comparison: every Conv2D check is lost.
# loses: test_conv2d_parameters_registered test_conv2d_weight_shape test_conv2d_initial_values test_conv2d_forward test_conv2d_gradients
# cell: Conv2D
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return corr2d(x, self.weight) * float("nan") + self.bias
