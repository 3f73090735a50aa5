# One call of F.conv2d with a batch of one and one output channel.
# A forbidden shortcut voids every check of the exercise (course.toml [policy], the default).
# corr2d_multi_in_out calls corr2d_multi_in, so it reaches F.conv2d too and is void as well.
# loses: test_multi_in_worked_example test_multi_in_output_shape test_multi_in_random test_multi_in_dtype_device test_multi_in_no_builtin_conv test_multi_in_out_worked_example test_multi_in_out_output_shape test_multi_in_out_random test_multi_in_out_dtype_device test_multi_in_out_no_builtin_conv
# cell: corr2d_multi_in
def corr2d_multi_in(X, K):
    return F.conv2d(X.unsqueeze(0), K.unsqueeze(0))[0, 0]
