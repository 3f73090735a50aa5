# Off by one: the receptive field starts at 0 instead of the single pixel it always sees.
# loses: test_rf_dilated test_rf_random test_rf_stride_one test_rf_strided
# diagnosis: rf_starts_at_zero
# cell: receptive_field
def receptive_field(layers):
    r, j = 0, 1
    for layer in layers:
        k, s, d = (*layer, 1) if len(layer) == 2 else layer
        r += d * (k - 1) * j
        j *= s
    return r
