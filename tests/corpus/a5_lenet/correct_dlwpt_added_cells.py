# A correct notebook in the style of "Deep Learning with PyTorch" (dlwpt-code, p1ch8): CifarNet's
# forward with out.view(-1, 8 * 8 * 8), LeNet with its own imports in the answer cell, and
# layer_output_shapes built on a helper from a cell the student added above it.
# loses:
# cell: LeNet
import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
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
        out = self.pool1(torch.sigmoid(self.conv1(x)))
        out = self.pool2(torch.sigmoid(self.conv2(out)))
        out = out.view(-1, 16 * 5 * 5)
        out = torch.sigmoid(self.fc1(out))
        out = torch.sigmoid(self.fc2(out))
        return self.fc3(out)
# cell: CifarNet
class CifarNet(nn.Module):
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
        out = self.pool1(self.act1(self.conv1(x)))
        out = self.pool2(self.act2(self.conv2(out)))
        out = out.view(-1, 8 * 8 * 8)
        out = self.act3(self.fc1(out))
        out = self.fc2(out)
        return out
# added-cell: before layer_output_shapes
def zeros_like_model(model, shape):
    """Zeros of `shape` with the dtype and device of the model's first parameter."""
    p = next(model.parameters())
    return torch.zeros(shape, dtype=p.dtype, device=p.device)
# cell: layer_output_shapes
def layer_output_shapes(model, input_shape):
    shapes = []
    handles = [child.register_forward_hook(lambda mod, inp, out: shapes.append(tuple(out.shape)))
               for child in model.children()]
    try:
        with torch.no_grad():
            model(zeros_like_model(model, input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return shapes
