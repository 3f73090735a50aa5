# loses:
# cell: corr2d
def corr2d(X, K):
    H, W = X.shape
    h, w = K.shape
    rows = [torch.stack([torch.sum(X[r:r + h, c:c + w] * K) for c in range(W - w + 1)])
            for r in range(H - h + 1)]
    return torch.stack(rows).to(X.dtype)
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    kernel = torch.zeros(1, 2, dtype=X.dtype, device=X.device, requires_grad=True)
    with torch.no_grad():
        kernel.uniform_(-0.5, 0.5)
    target = Y.to(X.dtype)
    for epoch in range(num_epochs):
        error = corr2d(X, kernel) - target
        (error * error).sum().backward()
        with torch.no_grad():
            kernel -= lr * kernel.grad
            kernel.grad.zero_()
    return kernel.detach()
