# Writes the transposed formula with kernel_size, ignoring dilation.
# loses: test_transpose_dilation test_transpose_sweep
# diagnosis: transpose_dilation_ignored
# cell: conv_transpose_output_size
def conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    if not (output_padding < stride or output_padding < dilation):
        raise ValueError("output padding must be smaller than either stride or dilation")
    out = (n - 1) * stride - 2 * padding + kernel_size + output_padding
    if out < 1:
        raise ValueError("output size is too small")
    return out
