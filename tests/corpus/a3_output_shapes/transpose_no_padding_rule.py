# Never checks torch's output_padding rule (output_padding < stride or < dilation): one missing
# ValueError, charged by the rule's own check only (the sweep leaves those cases to it).
# loses: test_transpose_output_padding_rule
# diagnosis: transpose_no_output_padding_rule
# cell: conv_transpose_output_size
def conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    out = (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out < 1:
        raise ValueError("output size is too small")
    return out
