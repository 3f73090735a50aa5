# Runs the forward pass on torch.zeros(input_shape): float32 on the CPU, whatever the model is.
# loses: test_shapes_dtype_device
# cell: layer_output_shapes
def layer_output_shapes(model, input_shape):
    shapes = []
    handles = [c.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
               for c in model.children()]
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
    return shapes
