# One call of F.conv2d with a batch of one and one output channel.
# loses: test_multi_in_no_builtin_conv
# cell: corr2d_multi_in
def corr2d_multi_in(X, K):
    return F.conv2d(X.unsqueeze(0), K.unsqueeze(0))[0, 0]
