# Adds k - 1 per layer and forgets that strides of earlier layers spread later kernels out.
# loses: test_rf_strided test_rf_random
# diagnosis: rf_jump_ignored
# cell: receptive_field
def receptive_field(layers):
    r = 1
    for layer in layers:
        k, s = layer[0], layer[1]
        d = layer[2] if len(layer) > 2 else 1
        r += d * (k - 1)
    return r
