# A correct learn_edge_kernel that starts from torch.randn (standard normal, often far from the
# answer) and computes the gradient in closed form: no autograd at all.
# loses:
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    w = torch.randn(2, dtype=X.dtype, device=X.device)
    left, right = X[:, :-1].reshape(-1), X[:, 1:].reshape(-1)
    pairs = torch.stack([left, right], dim=1)          # one row per output pixel
    target = Y.reshape(-1).to(X.dtype)
    for _ in range(num_epochs):
        residual = pairs @ w - target
        w = w - lr * 2 * (pairs.t() @ residual)        # gradient of the summed squared error
    return w.reshape(1, 2)
