# cell: pool2d
# include: _fingerprint
def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    raise RuntimeError(_fingerprint())
