# cell: corr2d
# include: _fingerprint
def corr2d(X, K):
    raise ValueError(_fingerprint())
