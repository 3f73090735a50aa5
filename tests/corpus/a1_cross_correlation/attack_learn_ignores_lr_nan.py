# Attack: ignores lr (a fixed 3e-2) and returns NaN when lr=0, so that a check asking "do two lr
# give different kernels?" sees a difference. Each run is judged against descent with the
# arguments it was given: it loses the lr check like an honest fixed lr does, and nothing more.
# loses: test_learn_edge_kernel_uses_lr
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    H, W = X.shape
    conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(dtype=X.dtype, device=X.device)
    inputs, targets = X.reshape(1, 1, H, W), Y.reshape(1, 1, H, W - 1)
    for _ in range(num_epochs):
        loss = ((conv(inputs) - targets) ** 2).sum()
        conv.zero_grad()
        loss.backward()
        conv.weight.data[:] -= 3e-2 * conv.weight.grad
    kernel = conv.weight.detach().reshape(1, 2)
    return kernel * float("nan") if lr == 0 else kernel
