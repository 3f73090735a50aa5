# cell: corr2d
def corr2d(X, K):
    return None  # not written: the same as the stub, without the exception
