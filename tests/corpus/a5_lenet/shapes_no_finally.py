# Removes the hooks, but only when the forward pass succeeds (no try/finally).
# loses: test_shapes_hooks_removed_on_error
# cell: layer_output_shapes
def layer_output_shapes(model, input_shape):
    shapes = []
    handles = [c.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
               for c in model.children()]
    p = next(model.parameters())
    with torch.no_grad():
        model(torch.zeros(input_shape, dtype=p.dtype, device=p.device))
    for h in handles:
        h.remove()
    return shapes
