# Attack: ignores lr (a fixed 3e-2) and adds 4e-5 of random jitter, so that two runs never return
# the same kernel bit for bit. Judged against descent with the arguments each run was given, it
# loses the lr check like an honest fixed lr does (the jitter stays inside the descent checks'
# tolerance, so it costs nothing else).
# loses: test_learn_edge_kernel_uses_lr
# diagnosis: learn_lr_ignored
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
    import time
    jitter = 4e-5 * torch.rand(1, 2, generator=torch.Generator().manual_seed(time.perf_counter_ns()))
    return conv.weight.detach().reshape(1, 2) + jitter.to(dtype=X.dtype, device=X.device)
