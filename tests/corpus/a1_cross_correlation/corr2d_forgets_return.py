# Fills Y and forgets `return Y`: corr2d returns None. Not an answer, so it earns what the stub
# earns, "not flipped" and "does not modify X" included; Conv2D's forward, built on it, fails too.
# loses: test_corr2d_worked_example test_corr2d_output_shape test_corr2d_fills_every_position test_corr2d_random_values test_corr2d_not_flipped test_corr2d_keeps_dtype test_corr2d_keeps_device test_corr2d_input_unchanged test_corr2d_gradients test_corr2d_no_builtin_conv test_conv2d_parameters_registered test_conv2d_weight_shape test_conv2d_initial_values test_conv2d_forward test_conv2d_gradients
# cell: corr2d
def corr2d(X, K):
    """Compute 2D cross-correlation of X (H, W) with kernel K (h, w)."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
