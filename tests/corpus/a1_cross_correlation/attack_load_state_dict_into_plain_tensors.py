# Attack: plain float32 tensors (the notebook's trap) behind a load_state_dict that copies into
# them, so values loaded the way nn.Module loads parameters reach the forward. nn.Module's .to()
# converts only registered tensors: after .to(torch.float64) its bias is still float32, and the
# forward's float64 output shows the rounding. Its gradients are not judged on tensors that are
# not parameters. It gains nothing over the honest plain-tensor mistake (conv2d_plain_tensors).
# loses: test_conv2d_parameters_registered test_conv2d_gradients
# cell: Conv2D
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = torch.rand(kernel_size, requires_grad=True)
        self.bias = torch.zeros(1, requires_grad=True)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        with torch.no_grad():
            for name, value in state_dict.items():
                getattr(self, name).copy_(value)
        return [], []

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
