# Takes the dtype of the parameters but not their device: fails for a model on the GPU.
# needs: cuda
# loses: test_shapes_dtype_device
# cell: layer_output_shapes
def layer_output_shapes(model, input_shape):
    shapes = []
    handles = [c.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
               for c in model.children()]
    dtype = next(model.parameters()).dtype
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
    return shapes
