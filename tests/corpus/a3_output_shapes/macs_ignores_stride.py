# Computes the output size as if the stride were 1 (H + 2p - d(k-1)), so strided layers cost too much.
# loses: test_macs_output_size
# diagnosis: conv_stride_ignored
# cell: conv2d_macs
def conv2d_macs(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1):
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    n, c_in, h, w = input_shape
    (kh, kw), (ph, pw), (dh, dw) = pair(kernel_size), pair(padding), pair(dilation)
    h_out = h + 2 * ph - dh * (kh - 1)
    w_out = w + 2 * pw - dw * (kw - 1)
    return n * out_channels * h_out * w_out * (c_in // groups) * kh * kw
