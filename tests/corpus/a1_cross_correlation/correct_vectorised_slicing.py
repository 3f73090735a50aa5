# Correct, written differently: corr2d as a sum of h * w shifted slices (no loop over output
# positions), Conv2D with register_parameter, learn_edge_kernel with torch.optim.SGD.
# loses:
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    out_h, out_w = X.shape[0] - h + 1, X.shape[1] - w + 1
    Y = X.new_zeros((out_h, out_w))
    for a in range(h):
        for b in range(w):
            Y = Y + K[a, b] * X[a:a + out_h, b:b + out_w]
    return Y
# cell: Conv2D
class Conv2D(nn.Module):
    """A 2-D convolutional layer: corr2d with a learnable kernel, plus a learnable scalar bias."""

    def __init__(self, kernel_size):
        super().__init__()
        self.register_parameter("weight", nn.Parameter(torch.rand(*kernel_size)))
        self.register_parameter("bias", nn.Parameter(torch.zeros(1)))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    """Learn a (1, 2) kernel mapping the image X (H, W) to the edge map Y (H, W - 1)."""
    conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(X)
    optimizer = torch.optim.SGD(conv.parameters(), lr=lr)
    inputs, targets = X[None, None], Y[None, None].to(X)
    for _ in range(num_epochs):
        optimizer.zero_grad()
        loss = (conv(inputs) - targets).pow(2).sum()
        loss.backward()
        optimizer.step()
    return conv.weight.detach().view(1, 2).clone()
