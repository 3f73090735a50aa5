# Flattens X to (H * W, c_i) with reshape (not a transpose), which mixes channels and pixels.
# loses: test_1x1_values test_1x1_single_channel
# cell: corr2d_multi_in_out_1x1
def corr2d_multi_in_out_1x1(X, K):
    c_i, h, w = X.shape
    c_o = K.shape[0]
    Y = X.reshape(h * w, c_i) @ K.reshape(c_o, c_i).T
    return Y.reshape(c_o, h, w)
