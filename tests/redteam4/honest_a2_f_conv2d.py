# cell: corr2d_padded_strided
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    return F.conv2d(X[None, None], K[None, None], padding=padding, stride=stride)[0, 0]
# cell: corr2d_multi_in
def corr2d_multi_in(X, K):
    return F.conv2d(X[None], K[None])[0, 0]
# cell: corr2d_multi_in_out
def corr2d_multi_in_out(X, K):
    return F.conv2d(X[None], K)[0]
# cell: corr2d_multi_in_out_1x1
def corr2d_multi_in_out_1x1(X, K):
    return F.conv2d(X[None], K.to(X.dtype))[0]
