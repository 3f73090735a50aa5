# Always runs a single example: torch.zeros(1, *input_shape[1:]) ignores the batch size asked for.
# loses: test_shapes_batch
# cell: layer_output_shapes
def layer_output_shapes(model, input_shape):
    shapes = []
    handles = [c.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
               for c in model.children()]
    p = next(model.parameters())
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape[1:], dtype=p.dtype, device=p.device))
    finally:
        for h in handles:
            h.remove()
    return shapes
