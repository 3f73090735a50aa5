# A correct learn_edge_kernel written with torch.optim.SGD: nn.Conv2d's own random init, the
# optimizer's zero_grad and step.
# loses:
# cell: learn_edge_kernel
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(dtype=X.dtype, device=X.device)
    optimizer = torch.optim.SGD(conv.parameters(), lr=lr)
    x, y = X[None, None], Y[None, None].to(X.dtype)
    for _ in range(num_epochs):
        optimizer.zero_grad()
        loss = ((conv(x) - y) ** 2).sum()
        loss.backward()
        optimizer.step()
    return conv.weight.detach().reshape(1, 2).clone()
