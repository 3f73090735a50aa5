# cell: corr2d
def corr2d(X, K):
    # the correlation theorem: X's spectrum times the conjugate of K's, back to space; the
    # first (H - h + 1, W - w + 1) entries of that circular correlation never wrap around
    H, W = X.shape
    h, w = K.shape
    spectrum = torch.fft.rfft2(X) * torch.fft.rfft2(K, s=(H, W)).conj()
    return torch.fft.irfft2(spectrum, s=(H, W))[:H - h + 1, :W - w + 1]
