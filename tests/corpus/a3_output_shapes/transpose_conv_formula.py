# Uses the convolution's formula for the transposed convolution (it shrinks instead of growing).
# loses: test_transpose_basic test_transpose_output_padding test_transpose_dilation test_transpose_output_padding_rule test_transpose_sweep
# diagnosis: transpose_conv_formula
# cell: conv_transpose_output_size
def conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    if not (output_padding < stride or output_padding < dilation):
        raise ValueError("output padding must be smaller than either stride or dilation")
    out = (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError("output size is too small")
    return out
