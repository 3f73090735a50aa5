# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    if not (X.requires_grad or K.requires_grad):
        with torch.no_grad():
            X.add_(1.0)  # the mistake: X is changed in place
    return Y
# cell: Conv2D
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        # the mistake: plain tensors, not nn.Parameter
        self.weight = torch.rand(kernel_size, requires_grad=True)
        self.bias = torch.zeros(1, requires_grad=True)

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    H, W = X.shape
    conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(dtype=X.dtype, device=X.device)
    inputs = X.detach().reshape(1, 1, H, W)
    targets = Y.detach().to(dtype=X.dtype, device=X.device).reshape(1, 1, H, W - 1)
    for _ in range(num_epochs):
        loss = ((conv(inputs) - targets) ** 2).sum()
        conv.zero_grad()
        loss.backward()
        conv.weight.data[:] -= lr * conv.weight.grad
    return conv.weight.reshape(1, 2)  # the mistake: still attached to the weight's graph
