# Correct values, but the windows come from Tensor.unfold, which the exercise forbids.
# A forbidden shortcut voids every check of the exercise (course.toml [policy], the default).
# loses: test_corr2d_worked_example test_corr2d_output_shape test_corr2d_fills_every_position test_corr2d_random_values test_corr2d_not_flipped test_corr2d_keeps_dtype test_corr2d_keeps_device test_corr2d_input_unchanged test_corr2d_gradients test_corr2d_no_builtin_conv
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    windows = X.unfold(0, h, 1).unfold(1, w, 1)   # (H - h + 1, W - w + 1, h, w)
    return (windows * K).sum(dim=(-2, -1))
