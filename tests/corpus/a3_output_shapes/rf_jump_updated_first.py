# Multiplies the jump by the layer's stride before adding that layer's kernel.
# loses: test_rf_strided test_rf_random
# diagnosis: rf_jump_updated_first
# cell: receptive_field
def receptive_field(layers):
    r, jump = 1, 1
    for layer in layers:
        k, s, d = (tuple(layer) + (1,))[:3]
        jump *= s
        r += d * (k - 1) * jump
    return r
