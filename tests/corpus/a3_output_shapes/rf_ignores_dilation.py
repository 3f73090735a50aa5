# Tracks the jump correctly but drops the dilation of (k, s, d) layers.
# loses: test_rf_dilated test_rf_random
# diagnosis: rf_dilation_ignored
# cell: receptive_field
def receptive_field(layers):
    r, jump = 1, 1
    for layer in layers:
        k, s = layer[0], layer[1]
        r += (k - 1) * jump
        jump *= s
    return r
