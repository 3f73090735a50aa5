# The output is a slice of X (a view, not a copy), so writing it overwrites X. The values still
# come out right (each X[i, j] is overwritten only after its last use), but X is changed and a
# leaf X that requires grad cannot be written in place, and Conv2D cannot back-propagate
# through an input it has overwritten.
# loses: test_corr2d_input_unchanged test_corr2d_gradients test_conv2d_gradients
# cell: corr2d
def corr2d(X, K):
    h, w = K.shape
    Y = X[:X.shape[0] - h + 1, :X.shape[1] - w + 1]
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
