# Correct: the 1 x 1 answer is one matrix product; the loop below it, in the same cell, is the
# student's own test over a few channel counts, which the answer does not reach.
# loses:
# cell: corr2d_multi_in_out_1x1
def corr2d_multi_in_out_1x1(X, K):
    c_i, h, w = X.shape
    c_o = K.shape[0]
    return (K.reshape(c_o, c_i).to(X.dtype) @ X.reshape(c_i, h * w)).reshape(c_o, h, w)


for c_i, c_o in [(1, 1), (3, 2), (4, 5)]:
    X_t, K_t = torch.randn(c_i, 3, 4), torch.randn(c_o, c_i, 1, 1)
    expected = F.conv2d(X_t[None], K_t)[0]
    assert torch.allclose(corr2d_multi_in_out_1x1(X_t, K_t), expected, atol=1e-5), (c_i, c_o)
print("1 x 1 agrees with F.conv2d for", [c for c in range(3)])
