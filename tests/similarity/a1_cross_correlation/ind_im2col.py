# loses:
# cell: corr2d
def im2col(image, kernel_height, kernel_width):
    out_h = image.shape[0] - kernel_height + 1
    out_w = image.shape[1] - kernel_width + 1
    columns = []
    for top in range(out_h):
        for left in range(out_w):
            columns.append(image[top:top + kernel_height, left:left + kernel_width].reshape(-1))
    return torch.stack(columns), out_h, out_w


def corr2d(X, K):
    cols, out_h, out_w = im2col(X, K.shape[0], K.shape[1])
    flat_kernel = K.reshape(-1, 1).to(X.dtype)
    return (cols @ flat_kernel).reshape(out_h, out_w)
