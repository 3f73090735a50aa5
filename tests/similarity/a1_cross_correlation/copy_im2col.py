# loses:
# cell: corr2d
def corr2d(image, kernel):
    # matrix product of patches and kernel (im2col trick)
    patches, oh, ow = to_columns(image, kernel.shape[0], kernel.shape[1])
    k = kernel.reshape(-1, 1).to(image.dtype)
    return (patches @ k).reshape(oh, ow)


def to_columns(img, kh, kw):
    oh = img.shape[0] - kh + 1
    ow = img.shape[1] - kw + 1
    cols = []
    for i in range(oh):
        for j in range(ow):
            # one flattened patch per output pixel
            cols.append(img[i:i + kh, j:j + kw].reshape(-1))
    return torch.stack(cols), oh, ow
