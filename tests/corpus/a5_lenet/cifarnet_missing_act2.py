# Forgets act2 between conv2 and pool2.
# loses: test_cifarnet_forward test_cifarnet_activations
# diagnosis: cifarnet_no_tanh_conv2
# cell: CifarNet
class CifarNet(nn.Module):
    """The two-convolution CIFAR-2 model: (N, 3, 32, 32) -> (N, 2) class scores; 18,090 parameters."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.act1 = nn.Tanh()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1)
        self.act2 = nn.Tanh()
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(8 * 8 * 8, 32)
        self.act3 = nn.Tanh()
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        """x: (N, 3, 32, 32) -> (N, 2)."""
        out = self.pool1(self.act1(self.conv1(x)))
        out = self.pool2(self.conv2(out))
        out = out.view(-1, 8 * 8 * 8)
        out = self.act3(self.fc1(out))
        return self.fc2(out)
