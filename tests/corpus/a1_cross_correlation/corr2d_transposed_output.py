# Indexes the output as Y[j, i]: the result is transposed, (W - w + 1, H - h + 1).
# Conv2D, built on it, gives transposed outputs too: its forward and weight-shape checks are lost with it.
# loses: test_corr2d_output_shape test_corr2d_worked_example test_corr2d_random_values test_corr2d_fills_every_position test_corr2d_input_unchanged test_conv2d_forward test_conv2d_weight_shape
# diagnosis: corr2d_transposed
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[1] - w + 1, X.shape[0] - h + 1), dtype=X.dtype, device=X.device)
    for i in range(X.shape[0] - h + 1):
        for j in range(X.shape[1] - w + 1):
            Y[j, i] = (X[i:i + h, j:j + w] * K).sum()
    return Y
