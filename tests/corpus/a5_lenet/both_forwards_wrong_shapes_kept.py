# LeNet uses ReLU, CifarNet flattens channels last: both forwards wrong, but each still runs
# every given child on the shapes of torch's network, so layer_output_shapes is judged on them.
# loses: test_lenet_forward test_lenet_sigmoid test_cifarnet_forward test_cifarnet_flatten_order
# diagnosis: lenet_relu cifarnet_channels_last_flatten
# cell: LeNet
class LeNet(nn.Module):
    """LeNet for 28x28 grayscale images: (N, 1, 28, 28) -> (N, 10) class scores."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.pool1 = nn.AvgPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool2 = nn.AvgPool2d(kernel_size=2, stride=2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        """x: (N, 1, 28, 28) -> (N, 10); sigmoid after conv1, conv2, fc1 and fc2."""
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
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
