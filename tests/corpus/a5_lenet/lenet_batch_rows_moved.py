# Flattens each image, then moves the rows of a batch by one: every image of a batch gets
# its neighbour's scores, while one image alone is right.
# loses: test_lenet_batch
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
        x = self.pool1(torch.sigmoid(self.conv1(x)))
        x = self.pool2(torch.sigmoid(self.conv2(x)))
        x = x.flatten(1)
        if len(x) > 1:  # a batch's rows moved by one: each image gets its neighbour's scores
            x = torch.cat([x[1:], x[:1]])
        x = torch.sigmoid(self.fc1(x))
        x = torch.sigmoid(self.fc2(x))
        return self.fc3(x)
