# K.squeeze() also drops a channel axis of size 1, so c_i == 1 breaks the matrix product.
# loses: test_1x1_single_channel
# cell: corr2d_multi_in_out_1x1
def corr2d_multi_in_out_1x1(X, K):
    c_i, h, w = X.shape
    Y = K.squeeze() @ X.reshape(c_i, h * w)
    return Y.reshape(-1, h, w)
