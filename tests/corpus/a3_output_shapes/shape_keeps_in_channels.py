# Copies the input's channel count into the output shape instead of out_channels.
# loses: test_shape_course test_shape_pairs test_shape_kernel_too_large test_shape_sweep
# diagnosis: shape_keeps_in_channels
# cell: conv2d_output_shape
def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    n, c, h, w = input_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel_size), pair(stride), pair(padding), pair(dilation)
    return (n, c, conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw))
