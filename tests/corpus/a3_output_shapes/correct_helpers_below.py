# A correct notebook whose answers call helpers from a cell the student added BELOW them (fine:
# they only run when called), with the answer cell's own imports.
# loses:
# cell: conv_output_size
import math


def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    require_positive(n=n, kernel_size=kernel_size, stride=stride, dilation=dilation)
    if padding < 0:
        raise ValueError("padding must be >= 0")
    out = math.floor((n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
    if out < 1:
        raise ValueError("the dilated kernel does not fit the padded input")
    return out
# added-cell: after conv_output_size
def require_positive(**values):
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
