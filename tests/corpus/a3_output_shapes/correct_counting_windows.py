# A correct solution written differently: it counts window positions instead of using the
# closed formulas, recurses the receptive field from the output back, and uses math.prod.
# loses:
# cell: conv_output_size
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1          # inputs covered by one window
    starts = range(0, n + 2 * padding - span + 1, stride)
    if len(starts) == 0:
        raise ValueError(f"a window of {span} does not fit in {n + 2 * padding} padded inputs")
    return len(starts)
# cell: conv_transpose_output_size
def conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    if output_padding >= max(stride, dilation):
        raise ValueError("output_padding must be smaller than stride or dilation")
    full = stride * (n - 1) + dilation * (kernel_size - 1) + 1   # before cropping
    size = full - 2 * padding + output_padding
    if size <= 0:
        raise ValueError("nothing is left after cropping the padding")
    return size
# cell: pool_output_size
def pool_output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    if 2 * padding > kernel_size:
        raise ValueError("padding should be at most half of the kernel")
    padded = n + 2 * padding
    span = dilation * (kernel_size - 1) + 1
    slack = stride - 1 if ceil_mode else 0       # ceil_mode lets the last window hang over the end
    count = 0
    while count * stride + span <= padded + slack and count * stride < n + padding:
        count += 1
    if count == 0:
        raise ValueError("no pooling window fits")
    return count
# cell: conv2d_output_shape
def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    as_pair = lambda v: list(v) if isinstance(v, (tuple, list)) else [v, v]
    sizes = [conv_output_size(*axis) for axis in zip(list(input_shape)[2:], as_pair(kernel_size), as_pair(stride),
                                                      as_pair(padding), as_pair(dilation))]
    return tuple([input_shape[0], out_channels] + sizes)
# cell: receptive_field
def receptive_field(layers):
    size = 1
    for layer in reversed(list(layers)):
        k, s, d = (list(layer) + [1])[:3]
        size = (size - 1) * s + d * (k - 1) + 1
    return size
# cell: conv2d_num_params
import math

def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    if in_channels % groups != 0 or out_channels % groups != 0:
        raise ValueError("groups must divide both channel counts")
    k = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * 2
    weight_shape = (out_channels, in_channels // groups, *k)
    return math.prod(weight_shape) + (out_channels if bias else 0)
# cell: conv2d_macs
import math

def conv2d_macs(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1):
    k = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * 2
    out_shape = conv2d_output_shape(input_shape, out_channels, k, stride, padding, dilation)
    per_output = (input_shape[1] // groups) * math.prod(k)
    return math.prod(out_shape) * per_output
