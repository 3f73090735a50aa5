# A correct learn_edge_kernel that starts from torch.rand (uniform in [0, 1), as Conv2D does) and
# runs the descent by hand on a leaf tensor with the student's own corr2d.
# loses:
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    K = torch.rand((1, 2), dtype=X.dtype, device=X.device, requires_grad=True)
    for epoch in range(num_epochs):
        loss = ((corr2d(X, K) - Y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            K -= lr * K.grad
            K.grad.zero_()
    return K.detach().clone()
