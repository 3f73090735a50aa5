# The learning rate is hard-coded: the lr argument is ignored.
# loses: test_learn_edge_kernel_uses_lr
# diagnosis: learn_lr_ignored
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    """Learn a (1, 2) kernel mapping the image X (H, W) to the edge map Y (H, W - 1)."""
    H, W = X.shape
    conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(dtype=X.dtype, device=X.device)
    inputs = X.reshape(1, 1, H, W)
    targets = Y.reshape(1, 1, H, W - 1)
    for _ in range(num_epochs):
        loss = ((conv(inputs) - targets) ** 2).sum()
        conv.zero_grad()
        loss.backward()
        conv.weight.data[:] -= 3e-2 * conv.weight.grad
    return conv.weight.detach().reshape(1, 2)
