# "Improves" the given model: conv2 with 16 channels instead of 8 (and fc1 to match).
# The forward is right for that model, but it is no longer the course's CifarNet.
# loses: test_cifarnet_activations test_cifarnet_batch test_cifarnet_flatten_order test_cifarnet_forward test_cifarnet_gradients test_cifarnet_layers
# cell: CifarNet
class CifarNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.act1 = nn.Tanh()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 16, kernel_size=3, padding=1)
        self.act2 = nn.Tanh()
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 8 * 8, 32)
        self.act3 = nn.Tanh()
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = x.flatten(1)
        return self.fc2(self.act3(self.fc1(x)))
