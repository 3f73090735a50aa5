"""layer_output_shapes(model, input_shape): the output shape of each direct child, in the order
the children ran. The models are built in the sandbox (student.torch_module for nn.Sequential,
the student's own LeNet / CifarNet for models with their own forward); the expected shapes come
from forward hooks on the same architecture built here."""

import torch
from torch import nn

from grader.engine.checks import CheckFailed, check, fail
from grader.engine.student import StudentError

from . import _reference as ref

# The Sequential models, as grader.untrusted.child.build_module specs, and what they show.
CONV_POOL_LINEAR = ["Sequential", [["Conv2d", [3, 4, 3]], ["ReLU"], ["MaxPool2d", [2]],
                                   ["Flatten"], ["Linear", [64, 5]]]]
ODD_STRIDES = ["Sequential", [["Conv2d", [2, 5], {"kernel_size": [3, 2], "stride": [2, 3], "padding": 1}],
                              ["AvgPool2d", [2], {"ceil_mode": True}], ["Tanh"], ["Conv2d", [5, 3, 1]],
                              ["Flatten"], ["Linear", [27, 7]], ["Sigmoid"]]]
CONV1D_BATCHNORM = ["Sequential", [["Conv1d", [2, 4, 3]], ["BatchNorm1d", [4]], ["ReLU"],
                                   ["Conv1d", [4, 1, 9]]]]
NESTED = ["Sequential", [["Sequential", [["Conv2d", [1, 2, 3]], ["ReLU"]]], ["Flatten"],
                         ["Linear", [18, 4]]]]
DENSE = ["Sequential", [["Flatten"], ["Linear", [12, 6]], ["Dropout", [0.5]], ["Linear", [6, 2]]]]
BROKEN = ["Sequential", [["Conv2d", [3, 4, 3]], ["Tanh"], ["Linear", [16, 2]]]]  # no flatten

SEQUENTIALS = [
    (CONV_POOL_LINEAR, (1, 3, 10, 10), "Conv2d, ReLU, MaxPool2d, Flatten, Linear"),
    (ODD_STRIDES, (1, 2, 9, 14), "Conv2d(kernel (3, 2), stride (2, 3), padding 1), AvgPool2d(ceil_mode), "
                                 "Tanh, 1x1 Conv2d, Flatten, Linear, Sigmoid"),
    (CONV1D_BATCHNORM, (1, 2, 11), "Conv1d, BatchNorm1d, ReLU, Conv1d"),
    (NESTED, (1, 1, 5, 5), "Sequential(Conv2d, ReLU), Flatten, Linear (a Sequential inside: only the "
                           "direct children count)"),
    (DENSE, (1, 3, 4), "Flatten, Linear, Dropout, Linear"),
]


def build(spec):
    """The trusted twin of grader.untrusted.child.build_module."""
    name, *rest = spec
    if name == "Sequential":
        return nn.Sequential(*(build(layer) for layer in rest[0]))
    return getattr(nn, name)(*(rest[0] if rest else []), **(rest[1] if len(rest) > 1 else {}))


def hooked_shapes(model, input_shape, dtype=torch.float32):
    shapes = []
    handles = [c.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
               for c in model.children()]
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
    return shapes


def expected_for(spec, input_shape):
    return hooked_shapes(build(spec), input_shape)


def children_text(children):
    text = ", ".join(f"{n} ({t})" for n, t in children)
    return text if len(text) <= 200 else text[:197] + "..."


def _as_shape(value):
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    return value


def compare(got, expected, on, children):
    """The student's list against the hooks' list, naming the first child that differs."""
    if not isinstance(got, (list, tuple)):
        fail(f"layer_output_shapes returned {type(got).__name__} {str(got)[:80]} for {on}; "
             f"expected a list of {len(expected)} shapes, one per child")
    got = [_as_shape(g) for g in got]
    if got == expected:
        return
    if len(got) != len(expected):
        shown = str(got) if len(str(got)) <= 300 else str(got)[:297] + "..."
        fail(f"layer_output_shapes returned {len(got)} shapes for {on}: {shown}; expected {len(expected)}, "
             f"one per direct child ({children_text(children)}): {expected}."
             + (" Hook only the direct children (model.children()), once each, and remove the hooks "
                "before returning." if len(got) > len(expected) else ""))
    names = [f"`{n}` ({t})" for n, t in children]
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            who = names[i] if i < len(names) else f"entry {i}"
            fail(f"layer_output_shapes gave {str(g)[:60]} for child {who}, entry {i} of the list, for {on}; "
                 f"expected {e}. Expected the whole list {expected}.")


def call(student, model, input_shape, on):
    try:
        return student.layer_output_shapes(model.handle, tuple(input_shape))
    except StudentError as error:
        fail(f"for {on}: {error}")


def sequential(student, spec, device="cpu", dtype=torch.float32):
    model = student.torch_module(spec)
    if device != "cpu" or dtype != torch.float32:
        model.to(device=device, dtype=dtype)
    return model


@check("layer_output_shapes", points=2,
       name="layer_output_shapes lists each child's output shape for nn.Sequential models")
def test_shapes_sequential(student):
    # Shapes do not depend on the device; test_shapes_dtype_device runs on every device.
    for spec, shape, what in SEQUENTIALS:
        model = sequential(student, spec)
        on = f"nn.Sequential({what}) and input_shape={shape}"
        compare(call(student, model, shape, on), expected_for(spec, shape), on, model.children())


# Mistakes in a network's forward that leave which children run, in which order and on which
# shapes, as they are: the activations of LeNet are functions, not children, and a permuted
# flatten still runs every child of CifarNet on the same shapes.
SHAPE_PRESERVING = {"LeNet": {"sigmoid", "missing", "final"}, "CifarNet": {"flatten"}}

# A grader-owned CifarNet written as nn.Sequential (its flatten a child): the model used when
# neither of the student's networks runs its children as the given architecture does.
CIFARNET_SEQUENTIAL = ["Sequential", [["Conv2d", [3, 16, 3], {"padding": 1}], ["Tanh"], ["MaxPool2d", [2]],
                                      ["Conv2d", [16, 8, 3], {"padding": 1}], ["Tanh"], ["MaxPool2d", [2]],
                                      ["Flatten"], ["Linear", [512, 32]], ["Tanh"], ["Linear", [32, 2]]]]


def usable_networks(student, seed):
    """The student's LeNet / CifarNet whose forward runs every given child, in order, on the
    shapes of torch's network: right, or wrong only in a way that keeps those (an activation,
    the flatten order). Their other mistakes cost the LeNet / CifarNet checks, not this one."""
    usable = []
    for net in (ref.LENET, ref.CIFARNET):
        try:
            model = ref.student_model(student, net, "cpu", torch.float32, ref.params(net, seed))
            out = model(ref.image_batch(net, 1, seed))
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, net.n_out):
                continue
            index = ref.matching_variant(net, seed, 1, out)
            if index != -1 and not (index is not None and ref.variants(net)[index][0] in SHAPE_PRESERVING[net.name]):
                continue
            if model.children() != net.children:
                continue
        except (StudentError, CheckFailed):
            continue
        usable.append((net, model))
    return usable


@check("layer_output_shapes", points=2,
       name="layer_output_shapes works for models with their own forward (your LeNet and CifarNet)")
def test_shapes_own_forward(student, seed):
    # These models flatten inside forward, so their children cannot simply be applied one
    # after another. The student's own classes are the only such models in the sandbox: use
    # those whose forward runs its children as torch's network does (so a mistake in LeNet
    # costs nothing here while CifarNet works).
    usable = usable_networks(student, seed)
    if not usable:
        # Neither network's forward can be relied on (the LeNet / CifarNet checks say why):
        # judge the list on the grader's own CifarNet, whose flatten is a child.
        shape = ref.CIFARNET.input_shape(1)
        model = sequential(student, CIFARNET_SEQUENTIAL)
        on = f"CifarNet written as an nn.Sequential with nn.Flatten() and input_shape={shape}"
        compare(call(student, model, shape, on), expected_for(CIFARNET_SEQUENTIAL, shape), on,
                model.children())
        return
    # layer_output_shapes runs in a fresh copy of the notebook, on models built there: nothing
    # their forwards did while usable_networks tried them is there to be handed back
    student.begin_check()
    for net, _ in usable:
        model = ref.student_model(student, net, "cpu", torch.float32, ref.params(net, seed))
        shape = net.input_shape(1)
        on = f"your {net.name} and input_shape={shape}"
        expected = hooked_shapes(net.cls(), shape)
        try:
            got = student.layer_output_shapes(model.handle, shape)
        except StudentError as error:
            fail(f"for {on}: {error}. {net.name}.forward flattens between its convolutional and linear "
                 "layers, so its children cannot be applied one after another: register a forward hook on "
                 "each child that records the output's shape, then run model(x) once.")
        compare(got, expected, on, net.children)


@check("layer_output_shapes", points=1, name="layer_output_shapes uses the batch size of input_shape")
def test_shapes_batch(student):
    for spec, shape, what in [(CONV_POOL_LINEAR, (3, 3, 10, 10), SEQUENTIALS[0][2]),
                              (ODD_STRIDES, (5, 2, 9, 14), SEQUENTIALS[1][2])]:
        model = sequential(student, spec)
        on = f"nn.Sequential({what}) and input_shape={shape}"
        got = call(student, model, shape, on)
        try:
            compare(got, expected_for(spec, shape), on, model.children())
        except CheckFailed as failure:
            fail(f"{failure} Run the forward pass on torch.zeros(input_shape): input_shape includes the "
                 "batch size, and every shape in the list starts with it.")


@check("layer_output_shapes", points=1,
       name="layer_output_shapes runs on the dtype and device of the model's parameters (every device)")
def test_shapes_dtype_device(student, devices):
    spec, shape, what = SEQUENTIALS[1]
    expected = expected_for(spec, shape)
    for device in devices:
        for dtype in (torch.float32, torch.float64):
            model = sequential(student, spec, device, dtype)
            on = (f"nn.Sequential({what}) moved to {device} as {str(dtype).replace('torch.', '')}, "
                  f"and input_shape={shape}")
            try:
                got = student.layer_output_shapes(model.handle, shape)
            except StudentError as error:
                fail(f"for {on}: {error}. Create the input with the dtype and device of the model's "
                     "parameters: p = next(model.parameters()); torch.zeros(input_shape, dtype=p.dtype, "
                     "device=p.device).")
            compare(got, expected, on, model.children())


def leftover_hooks(model, children):
    """[(who, number of forward hooks)] still registered on the model or its children."""
    left = []
    targets = [("the model itself", model)] + [
        (f"child `{name}` ({type_name})", model.method("__getitem__", i))
        for i, (name, type_name) in enumerate(children)]
    for who, target in targets:
        hooks = target.method("__getattribute__", "_forward_hooks")
        if hasattr(hooks, "__len__") and len(hooks):
            left.append((who, len(hooks)))
    return left


def _leftover_text(left):
    return ", ".join(f"{who} still has {n} forward hook{'s' if n > 1 else ''}" for who, n in left)


@check("layer_output_shapes", points=1,
       name="layer_output_shapes removes its hooks (a second call gives the same list)")
def test_shapes_hooks_removed(student):
    spec, shape, what = SEQUENTIALS[0]
    expected = expected_for(spec, shape)
    model = sequential(student, spec)
    children = model.children()
    for attempt in ("first", "second"):
        on = f"nn.Sequential({what}) and input_shape={shape}, called a {attempt} time on the same model"
        try:
            compare(call(student, model, shape, on), expected, on, children)
        except CheckFailed as failure:
            if attempt == "first":
                raise
            fail(f"{failure} The hooks of the first call are still registered: keep the handle that "
                 "register_forward_hook returns and call handle.remove() on each before returning.")
    left = leftover_hooks(model, children)
    if left:
        fail(f"after layer_output_shapes returned for nn.Sequential({what}), {_leftover_text(left)}: "
             "keep the handle that "
             "register_forward_hook returns and call handle.remove() on each before returning.")


@check("layer_output_shapes", points=1,
       name="layer_output_shapes removes its hooks even when the forward pass raises")
def test_shapes_hooks_removed_on_error(student):
    # credit only a layer_output_shapes that works (a stub that raises registers no hooks either)
    spec, good_shape, what = SEQUENTIALS[0]
    model = sequential(student, spec)
    on = f"nn.Sequential({what}) and input_shape={good_shape}"
    compare(call(student, model, good_shape, on), expected_for(spec, good_shape), on, model.children())
    shape = (1, 3, 6, 6)
    model = sequential(student, BROKEN)
    try:
        student.layer_output_shapes(model.handle, shape)
    except StudentError:
        pass  # expected: this model cannot run (no flatten before its Linear)
    left = leftover_hooks(model, model.children())
    if left:
        fail(f"after layer_output_shapes ran on nn.Sequential(Conv2d, Tanh, Linear), whose forward fails "
             f"(it has no flatten before the Linear), {_leftover_text(left)}: remove the hooks in a `finally:` "
             "block so that they go away also when the forward pass fails.")
