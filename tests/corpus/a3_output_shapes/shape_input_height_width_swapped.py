# Unpacks the input shape as (N, C, W, H): the height's settings are applied to the width.
# The reference conv2d_macs reuses conv2d_output_shape, so it is wrong too.
# loses: test_shape_course test_shape_pairs test_shape_kernel_too_large test_shape_sweep test_macs_output_size
# diagnosis: shape_input_height_width_swapped
# cell: conv2d_output_shape
def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    n, c, w, h = input_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel_size), pair(stride), pair(padding), pair(dilation)
    return (n, out_channels, conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw))
