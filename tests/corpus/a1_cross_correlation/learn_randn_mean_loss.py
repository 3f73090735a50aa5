# Starts from torch.randn and descends the mean of the squared errors instead of their sum:
# the steps are too small by the number of pixels.
# loses: test_learn_edge_kernel_course_example test_learn_edge_kernel_other_kernel
# diagnosis: learn_mean_loss
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    K = torch.randn((1, 2), dtype=X.dtype, device=X.device, requires_grad=True)
    for _ in range(num_epochs):
        loss = ((corr2d(X, K) - Y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            K -= lr * K.grad
            K.grad = None
    return K.detach()
