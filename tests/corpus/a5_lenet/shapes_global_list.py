# Keeps the shapes in a global list that is cleared on every call, and leaves the hooks in place:
# a second call on the same model lists every shape twice.
# loses: test_shapes_hooks_removed test_shapes_hooks_removed_on_error
# cell: layer_output_shapes
SHAPES = []


def save_shape(module, inputs, output):
    SHAPES.append(tuple(output.shape))


def layer_output_shapes(model, input_shape):
    SHAPES.clear()
    for child in model.children():
        child.register_forward_hook(save_shape)
    p = next(model.parameters())
    with torch.no_grad():
        model(torch.zeros(input_shape, dtype=p.dtype, device=p.device))
    return list(SHAPES)
