# Flattens channels last (permute to (N, H, W, C) first, as for TensorFlow-style images).
# loses: test_cifarnet_forward test_cifarnet_flatten_order
# diagnosis: cifarnet_channels_last_flatten
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
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        x = self.act3(self.fc1(x))
        return self.fc2(x)
