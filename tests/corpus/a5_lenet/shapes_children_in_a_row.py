# Applies the children one after another instead of hooking a real forward pass: right for an
# nn.Sequential, wrong for LeNet and CifarNet (their forward flattens between the layers).
# loses: test_shapes_own_forward
# cell: layer_output_shapes
def layer_output_shapes(model, input_shape):
    p = next(model.parameters())
    x = torch.zeros(input_shape, dtype=p.dtype, device=p.device)
    shapes = []
    with torch.no_grad():
        for layer in model.children():
            x = layer(x)
            shapes.append(tuple(x.shape))
    return shapes
