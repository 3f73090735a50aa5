# Right answers from F.conv2d, which the exercise forbids.
# A forbidden shortcut voids every check of the exercise (course.toml [policy], the default).
# loses: test_padded_strided_worked_examples test_padded_strided_padding_both_sides test_padded_strided_stride_both_axes test_padded_strided_int_arguments test_padded_strided_random test_padded_strided_gradients test_padded_strided_dtype_device test_padded_strided_no_builtin_conv
# cell: corr2d_padded_strided
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    return F.conv2d(X[None, None], K[None, None], padding=padding, stride=stride)[0, 0]
