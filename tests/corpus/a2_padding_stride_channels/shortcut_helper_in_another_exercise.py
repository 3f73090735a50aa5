# corr2d_multi_in sums its channels with corr2d_padded_strided, which the student wrote with
# F.conv2d: the convolution is reached from both exercises, and the call into another exercise
# does not clear corr2d_multi_in (nor corr2d_multi_in_out, which calls it). A forbidden shortcut
# voids every check of each exercise that reaches it (course.toml [policy], the default).
# loses: test_padded_strided_worked_examples test_padded_strided_padding_both_sides test_padded_strided_stride_both_axes test_padded_strided_int_arguments test_padded_strided_random test_padded_strided_gradients test_padded_strided_dtype_device test_padded_strided_no_builtin_conv test_multi_in_worked_example test_multi_in_output_shape test_multi_in_random test_multi_in_dtype_device test_multi_in_no_builtin_conv test_multi_in_out_worked_example test_multi_in_out_output_shape test_multi_in_out_random test_multi_in_out_dtype_device test_multi_in_out_no_builtin_conv
# cell: corr2d_padded_strided
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    return F.conv2d(X[None, None], K[None, None], padding=padding, stride=stride)[0, 0]
# cell: corr2d_multi_in
def corr2d_multi_in(X, K):
    return sum(corr2d_padded_strided(x, k) for x, k in zip(X, K))
