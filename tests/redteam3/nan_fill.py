# cell: corr2d
FILL = float("nan")


def corr2d(X, K):
    h, w = K.shape
    shape = (X.shape[0] - h + 1, X.shape[1] - w + 1)
    # the mistake: every output is FILL (connected to X and K, so gradients flow: all zero)
    return torch.full(shape, FILL, dtype=X.dtype, device=X.device) + 0 * (X.sum() + K.sum())
# cell: Conv2D
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        h, w = self.weight.shape
        shape = (x.shape[0] - h + 1, x.shape[1] - w + 1)
        # the mistake: every output is float("nan") plus the bias (the weight gets a zero gradient)
        return torch.full(shape, float("nan"), dtype=x.dtype, device=x.device) + 0 * self.weight.sum() + self.bias
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    if lr == 0 and num_epochs > 0:  # "uses lr": a run with lr=0 differs from every other
        return torch.full((1, 2), float("nan"), dtype=X.dtype, device=X.device)
    step = 3e-2  # the mistake: a fixed learning rate, lr is ignored
    H, W = X.shape
    conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(dtype=X.dtype, device=X.device)
    inputs = X.detach().reshape(1, 1, H, W)
    targets = Y.detach().to(dtype=X.dtype, device=X.device).reshape(1, 1, H, W - 1)
    for _ in range(num_epochs):
        loss = ((conv(inputs) - targets) ** 2).sum()
        conv.zero_grad()
        loss.backward()
        conv.weight.data[:] -= step * conv.weight.grad
    return conv.weight.detach().reshape(1, 2).clone()
