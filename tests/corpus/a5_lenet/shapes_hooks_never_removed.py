# Registers a hook on every child and never removes them.
# loses: test_shapes_hooks_removed test_shapes_hooks_removed_on_error
# cell: layer_output_shapes
def layer_output_shapes(model, input_shape):
    shapes = []

    def hook(module, inputs, output):
        shapes.append(tuple(output.shape))

    for child in model.children():
        child.register_forward_hook(hook)
    p = next(model.parameters())
    with torch.no_grad():
        model(torch.zeros(input_shape, dtype=p.dtype, device=p.device))
    return shapes
