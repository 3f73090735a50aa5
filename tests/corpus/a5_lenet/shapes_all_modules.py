# Hooks model.modules() (every submodule, recursively) minus the model itself instead of the direct
# children: a Sequential inside the model adds its own layers to the list.
# loses: test_shapes_sequential
# cell: layer_output_shapes
def layer_output_shapes(model, input_shape):
    shapes = []
    handles = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
               for m in model.modules() if m is not model]
    p = next(model.parameters())
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape, dtype=p.dtype, device=p.device))
    finally:
        for h in handles:
            h.remove()
    return shapes
