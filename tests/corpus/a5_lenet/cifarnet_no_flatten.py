# The nn.Sequential mistake of the book, written as a forward: no flatten before fc1
# ("mat1 and mat2 shapes cannot be multiplied").
# loses: test_cifarnet_forward test_cifarnet_batch test_cifarnet_gradients test_cifarnet_flatten_order test_cifarnet_activations test_cifarnet_layers
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
        for layer in self.children():
            x = layer(x)
        return x
