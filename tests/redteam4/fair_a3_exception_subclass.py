# cell: conv_output_size
class ShapeError(ValueError):
    """A setting no convolution accepts."""


def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    n, k, s, p, d = int(n), int(kernel_size), int(stride), int(padding), int(dilation)
    if n < 1 or k < 1 or s < 1 or d < 1 or p < 0:
        raise ShapeError("need n, kernel_size, stride, dilation >= 1 and padding >= 0")
    out = (n + 2 * p - d * (k - 1) - 1) // s + 1
    if out < 1:
        raise ShapeError(f"the dilated kernel ({d * (k - 1) + 1}) is longer than the padded input ({n + 2 * p})")
    return out
