# Starts from torch.rand (a fine choice) but hard-codes the learning rate: only the lr check is
# lost, and its message is about lr, not about where the kernel started.
# loses: test_learn_edge_kernel_uses_lr
# diagnosis: learn_lr_ignored
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    K = torch.rand((1, 2), dtype=X.dtype, device=X.device, requires_grad=True)
    for _ in range(num_epochs):
        loss = ((corr2d(X, K) - Y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            K -= 0.03 * K.grad
            K.grad = None
    return K.detach()
