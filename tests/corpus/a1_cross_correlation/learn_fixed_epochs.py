# Ten epochs, whatever num_epochs says.
# loses: test_learn_edge_kernel_uses_num_epochs
# diagnosis: learn_epochs_ignored
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    """Learn a (1, 2) kernel mapping the image X (H, W) to the edge map Y (H, W - 1)."""
    H, W = X.shape
    conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(dtype=X.dtype, device=X.device)
    inputs = X.reshape(1, 1, H, W)
    targets = Y.reshape(1, 1, H, W - 1)
    for epoch in range(10):
        loss = ((conv(inputs) - targets) ** 2).sum()
        conv.zero_grad()
        loss.backward()
        conv.weight.data[:] -= lr * conv.weight.grad
    return conv.weight.detach().reshape(1, 2)
