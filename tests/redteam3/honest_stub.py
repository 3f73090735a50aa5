# cell: corr2d
def corr2d(X, K):
    raise NotImplementedError()
