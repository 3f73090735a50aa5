# A correct notebook written from d2l.ai (6.2, "Convolutions for Images"), adapted only to the
# contract (dtype and device kept). The student added cells: a helper above corr2d that it
# uses, and one below Conv2D that Conv2D.forward calls (fine: it only runs at call time).
# learn_edge_kernel is d2l's training loop in a function, with its own imports in the cell.
# loses:
# added-cell: before corr2d
def output_shape(X, K):
    """(H - h + 1, W - w + 1)"""
    return X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1
# cell: corr2d
def corr2d(X, K):  #@save
    """Compute 2D cross-correlation."""
    h, w = K.shape
    Y = torch.zeros(output_shape(X, K), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
# cell: Conv2D
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return add_bias(corr2d(x, self.weight), self.bias)
# added-cell: after Conv2D
def add_bias(y, b):
    return y + b
# cell: learn_edge_kernel
import torch
from torch import nn


def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    # Construct a two-dimensional convolutional layer with 1 output channel and a
    # kernel of shape (1, 2). For the sake of simplicity, we ignore the bias here
    conv2d = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(X.device, X.dtype)
    # The two-dimensional convolutional layer uses four-dimensional input and
    # output in the format of (example, channel, height, width), where the batch
    # size (number of examples in the batch) and the number of channels are both 1
    X = X.reshape((1, 1) + tuple(X.shape))
    Y = Y.reshape((1, 1) + tuple(Y.shape))
    for i in range(num_epochs):
        Y_hat = conv2d(X)
        l = (Y_hat - Y) ** 2
        conv2d.zero_grad()
        l.sum().backward()
        # Update the kernel
        conv2d.weight.data[:] -= lr * conv2d.weight.grad
    return conv2d.weight.data.reshape((1, 2)).clone()
