# Right values, but through torch's own convolution instead of corr2d_multi_in.
# A forbidden shortcut voids every check of the exercise (course.toml [policy], the default).
# loses: test_multi_in_out_worked_example test_multi_in_out_output_shape test_multi_in_out_random test_multi_in_out_dtype_device test_multi_in_out_no_builtin_conv
# cell: corr2d_multi_in_out
def corr2d_multi_in_out(X, K):
    return F.conv2d(X.unsqueeze(0), K).squeeze(0)
