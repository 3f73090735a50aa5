# Attack: every function returns NaN of the right shape, so that a comparison of the composite
# with the student's own part (NaN against NaN) or of the int call with the pair call could pass.
# NaN never passes: every value check of the three exercises is lost.
# loses: test_padded_strided_worked_examples test_padded_strided_padding_both_sides test_padded_strided_stride_both_axes test_padded_strided_int_arguments test_padded_strided_random test_padded_strided_gradients test_multi_in_worked_example test_multi_in_random test_multi_in_out_worked_example test_multi_in_out_random
# cell: corr2d_padded_strided
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    rows = (X.shape[0] + 2 * p_h - K.shape[0]) // s_h + 1
    cols = (X.shape[1] + 2 * p_w - K.shape[1]) // s_w + 1
    return torch.full((rows, cols), float("nan"), dtype=X.dtype, device=X.device) + 0 * X.sum() + 0 * K.sum()
# cell: corr2d_multi_in
def corr2d_multi_in(X, K):
    return sum(corr2d(x, k) for x, k in zip(X, K)) * float("nan")
