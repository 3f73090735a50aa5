# Correct, written differently from the reference: view(-1, 400) / view(x.size(0), -1) flattens,
# tensor-method activations, and a layer_output_shapes that keeps a dict per child and returns
# torch.Size objects (the wire turns them into tuples).
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
        for conv, pool in ((self.conv1, self.pool1), (self.conv2, self.pool2)):
            x = pool(conv(x).sigmoid())
        x = x.view(-1, 16 * 5 * 5)
        x = self.fc1(x).sigmoid()
        x = self.fc2(x).sigmoid()
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
        out = self.pool1(self.act1(self.conv1(x)))
        out = self.pool2(self.act2(self.conv2(out)))
        out = out.view(out.size(0), -1)
        out = self.act3(self.fc1(out))
        out = self.fc2(out)
        return out
# cell: layer_output_shapes
def layer_output_shapes(model, input_shape):
    """Output shape of each direct child of model, in the order the children run."""
    order = []
    handles = []
    for name, child in model.named_children():
        handles.append(child.register_forward_hook(
            lambda module, inputs, output, name=name: order.append((name, output.shape))))
    param = next(iter(model.parameters()))
    x = torch.zeros(*input_shape, dtype=param.dtype, device=param.device)
    try:
        with torch.no_grad():
            model(x)
    finally:
        while handles:
            handles.pop().remove()
    return [shape for _, shape in order]
