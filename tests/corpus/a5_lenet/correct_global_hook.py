# Correct, written differently again: F.sigmoid and reshape(x.shape[0], -1) in LeNet,
# torch.flatten(x, 1) in CifarNet, and a layer_output_shapes with one global forward hook
# (torch.nn.modules.module.register_module_forward_hook) that keeps only the model's direct children.
# loses:
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
        x = F.sigmoid(self.conv1(x))
        x = self.pool1(x)
        x = F.sigmoid(self.conv2(x))
        x = self.pool2(x)
        x = x.reshape(x.shape[0], -1)
        x = F.sigmoid(self.fc1(x))
        x = F.sigmoid(self.fc2(x))
        x = self.fc3(x)
        return x
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
        for layer in (self.conv1, self.act1, self.pool1, self.conv2, self.act2, self.pool2):
            x = layer(x)
        x = torch.flatten(x, 1)
        return self.fc2(self.act3(self.fc1(x)))
# cell: layer_output_shapes
from torch.nn.modules.module import register_module_forward_hook


def layer_output_shapes(model, input_shape):
    """Output shape of each direct child of model, in the order the children run."""
    children = {id(c) for c in model.children()}
    shapes = []

    def record(module, inputs, output):
        if id(module) in children:
            shapes.append(tuple(int(s) for s in output.shape))

    handle = register_module_forward_hook(record)
    p = next(model.parameters())
    try:
        with torch.no_grad():
            model(torch.zeros(tuple(input_shape), dtype=p.dtype, device=p.device))
    finally:
        handle.remove()
    return shapes
