"""Conv2D(kernel_size): learnable weight (kernel_size) and bias (1,), forward = corr2d(x, weight) + bias.

Every Conv2D check is judged from what the layer's forward returns on inputs chosen here,
compared with torch: nothing the sandbox says about the module (its parameter list, its
state_dict, its attributes) earns a point.

- The weight is read through the forward: on an input that is zero but for a single 1, the
  output is the bias everywhere except for a window-shaped patch holding the weight's entries
  (turned by a half turn) plus the bias. Its extent is the weight's shape, its values the
  initial weight; the output on zeros is the bias.
- Registration shows in behaviour, through nn.Module's own machinery, which reaches only the
  tensors registered in the module: after `.to(torch.float64)` and `load_state_dict`, the
  forward must compute with the loaded values, at float64 precision where its output is
  float64. A module that keeps plain tensors and says otherwise (named_parameters(),
  state_dict()) shows the forward of its unloaded, unconverted tensors.
- The forward is judged against torch's corr2d + bias with kernels that are symmetric under a
  half turn, leaving out the last output row and column: a corr2d that flips the kernel or
  gets the output size or the borders wrong loses corr2d's checks, not Conv2D's.
"""

import torch

from grader.engine.checks import (check, describe, expect_tensor, fail, inputs, rng, shape_text, tolerance, values_differ,
                                  within, worked_example)

from .._corr2d_support import half_turn_symmetric, interior_close, ref_corr2d
from .mistakes import CONV2D_MISTAKES

PARAMETER_HINT = ("wrap the tensors in nn.Parameter, e.g. self.weight = nn.Parameter(torch.rand(kernel_size)) "
                  "and self.bias = nn.Parameter(torch.zeros(1)); a plain tensor, even with "
                  "requires_grad=True, is not returned by parameters(), so an optimizer never updates it, "
                  "load_state_dict does not load it and .to(device) or .to(torch.float64) does not move it")
MAX_PARAMETER_ELEMENTS = 4096  # Conv2D's tensors are a few numbers; a bigger claim is not believed


def reported_shapes(conv):
    """{name: shape} of the parameters the module says it has: used only to shape the values
    sent to it (never believed beyond a small size, never a reason for a point)."""
    shapes = {}
    info = conv.parameters()
    entries = info.get("parameters") if isinstance(info, dict) else None
    for entry in (entries if isinstance(entries, list) else [])[:16]:
        try:
            shape = tuple(int(s) for s in entry["shape"])
        except (KeyError, TypeError, ValueError):
            continue
        numel = 1
        for s in shape:
            numel *= s
        if len(shape) <= 4 and all(0 < s <= MAX_PARAMETER_ELEMENTS for s in shape) \
                and numel <= MAX_PARAMETER_ELEMENTS:
            shapes[str(entry.get("name"))] = shape
    return shapes


def load_parameters(conv, values, kernel_size):
    """Load `values` ({name: tensor, or a function of a shape giving one}) with the module's
    load_state_dict, nn.Module's loader: it copies only into registered parameters and buffers,
    never through named_parameters() or state_dict(). Returns the names not loaded (the ones
    load_state_dict calls unexpected): that reply can only cost the module a check, and the
    forward's values decide whether anything was loaded. Values are shaped as the module reports
    its parameters, else as the exercise asks (weight: kernel_size, bias: (1,))."""
    shapes = {"weight": tuple(kernel_size), "bias": (1,), **reported_shapes(conv)}
    state = {}
    for name, value in values.items():
        shape = shapes[name]
        if callable(value):
            value = value(shape)
        elif value.numel() == _numel(shape):
            value = value.reshape(shape)
        state[name] = value
    reply = conv.method("load_state_dict", state, strict=False)
    return sorted(_unexpected_keys(reply, state) & set(values))


def _unexpected_keys(reply, state):
    """The names load_state_dict did not load, from its (missing_keys, unexpected_keys) reply;
    every name sent when the reply is anything else."""
    if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[1], list) \
            and all(isinstance(key, str) for key in reply[1]):
        return set(reply[1])
    return set(state)


def set_parameters(conv, W, b):
    """Give the layer our weight and bias: through load_state_dict, else as plain attributes
    (a plain tensor costs the registration and gradient checks only). Returns the names set as
    plain attributes. The forward's values decide the rest."""
    plain = load_parameters(conv, {"weight": W, "bias": b}, tuple(W.shape))
    for name in plain:
        conv.method("__setattr__", name, W if name == "weight" else b)
    return plain


def _numel(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def finite_output(conv, x, what):
    return forward_values(conv, x, what)[0]


def forward_values(conv, x, what):
    """(the forward's output on `x` as float64 on the CPU, the output as it came), finite."""
    out = expect_tensor(conv(x), "Conv2D's forward")
    if not bool(torch.isfinite(out.detach().cpu()).all()):
        fail(f"Conv2D's forward returned {describe(out)} for {what}: the output must be finite")
    return out.detach().cpu().double(), out


def read_layer(conv, kernel_size):
    """(bias map, weight patch) as the forward shows them (see the module's doc): the output on
    zeros, and the bounding box of what a single 1 in the middle of the input adds to it."""
    h, w = kernel_size
    zeros = torch.zeros(2 * h + 1, 2 * w + 1)
    one_hot = zeros.clone()
    one_hot[h, w] = 1.0
    base = finite_output(conv, zeros, f"a zero input of shape {shape_text(zeros.shape)}")
    response = finite_output(conv, one_hot, f"an input of shape {shape_text(zeros.shape)} that is 0 "
                                            "but for one 1")
    if response.shape != base.shape:
        fail(f"Conv2D({kernel_size})'s forward returned outputs of shapes {shape_text(base.shape)} and "
             f"{shape_text(response.shape)} for two inputs of the same shape")
    seen = (response - base != 0).nonzero()
    if len(seen) == 0:
        return base, None
    top, left = (int(v) for v in seen.min(dim=0).values)
    bottom, right = (int(v) for v in seen.max(dim=0).values)
    return base, (response - base)[top:bottom + 1, left:right + 1]


@check("Conv2D", points=2, name="Conv2D's weight and bias are registered parameters: .to(torch.float64) converts them, and values loaded with load_state_dict are what the forward computes with")
def test_conv2d_parameters_registered(student, seed, devices):
    gen = rng(seed, "test_conv2d_parameters_registered")
    kernel_size = (2, 3)
    x = torch.randn(5, 6, generator=gen, dtype=torch.float64)
    # a float64 bias that no float32 holds (torch.rand's float32 draws are multiples of 2**-24):
    # a bias that .to(torch.float64) left in float32 comes back rounded by at least 2**-31
    c = float(torch.rand(1, generator=gen)) + 0.5 + 2.0 ** -30
    conv = student.Conv2D(kernel_size).to(dtype=torch.float64)
    not_loaded = load_parameters(conv, {"weight": lambda shape: torch.zeros(shape, dtype=torch.float64),
                                        "bias": lambda shape: torch.full(shape, c, dtype=torch.float64)},
                                 kernel_size)
    if not_loaded:
        fail(f"Conv2D({kernel_size}).load_state_dict did not load {' and '.join(f'`{n}`' for n in not_loaded)}: "
             f"it loads registered parameters only: {PARAMETER_HINT}")
    out, returned = forward_values(conv, x, "x of shape (5, 6) (float64)")
    on = (f"after .to(torch.float64) and load_state_dict with the weight set to zeros and the bias to {c:.17g}, "
          f"Conv2D({kernel_size})'s forward on x of shape (5, 6) returned {describe(returned)}")
    if not bool((out - c).abs().max() <= 1e-5 * (1 + c)):
        fail(f"{on}, not {c:.4g} everywhere: the forward does not compute with the registered parameters. "
             f"{PARAMETER_HINT}")
    # zeros times x plus the bias is exact in float64; only a float64 output can show the conversion
    if returned.dtype == torch.float64 and not bool((out - c).abs().max() <= 1e-12):
        fail(f"{on}: the bias the forward computes with was not converted to float64 by .to(torch.float64). "
             f"{PARAMETER_HINT}")
    load_parameters(conv, {"weight": lambda shape: torch.rand(shape, generator=gen, dtype=torch.float64) + 0.5,
                           "bias": lambda shape: torch.zeros(shape, dtype=torch.float64)}, kernel_size)
    out = finite_output(conv, x, "x of shape (5, 6) (float64)")
    if not bool((out != 0).any()):
        fail(f"after a nonzero weight was loaded into Conv2D({kernel_size}) with load_state_dict, its forward "
             f"still returned zeros: the forward does not compute with the registered weight. {PARAMETER_HINT}")


@check("Conv2D", points=1, name="Conv2D's weight has the shape kernel_size")
def test_conv2d_weight_shape(student, devices):
    for kernel_size in [(1, 2), (3, 2), (2, 4)]:
        conv = student.Conv2D(kernel_size)
        # ones where the module takes them, so that an initial weight with zeros cannot hide a row
        load_parameters(conv, {"weight": lambda shape: torch.ones(shape),
                               "bias": lambda shape: torch.zeros(shape)}, kernel_size)
        _, patch = read_layer(conv, kernel_size)
        if patch is None:
            fail(f"Conv2D({kernel_size})'s forward does not depend on its input: a single 1 in a zero input "
                 "changed nothing in the output")
        if tuple(patch.shape) != kernel_size:
            fail(f"Conv2D({kernel_size}) computes with a weight of shape {shape_text(patch.shape)} (the window "
                 f"one input pixel reaches in the output); expected {shape_text(kernel_size)}, the kernel_size "
                 "argument: self.weight = nn.Parameter(torch.rand(kernel_size))")


@check("Conv2D", points=1, name="Conv2D starts with a random weight in [0, 1) and a zero bias")
def test_conv2d_initial_values(student, devices):
    for kernel_size in [(3, 4), (2, 5)]:
        base, patch = read_layer(student.Conv2D(kernel_size), kernel_size)
        if not bool((base == 0).all()):
            fail(f"Conv2D({kernel_size})'s forward on a zero input returned {describe(base)}: the bias "
                 "should start at 0 (torch.zeros(1))")
        if patch is None:  # (its shape is test_conv2d_weight_shape's business)
            fail(f"Conv2D({kernel_size})'s initial weight could not be read from its forward: a single 1 in "
                 "a zero input changed nothing, as with a weight of zeros; it should start with random "
                 "values in [0, 1): torch.rand(kernel_size)")
        if not bool(((patch >= 0) & (patch < 1)).all()) or bool((patch == patch.reshape(-1)[0]).all()):
            fail(f"Conv2D({kernel_size}).weight should start with random values in [0, 1) "
                 f"(torch.rand(kernel_size)); its forward shows values between {patch.min().item():.3g} and "
                 f"{patch.max().item():.3g}")


def forward_cases(seed, name):
    """The course's edge image (with a symmetric kernel), then two cases drawn from the
    submission's seed; every kernel is symmetric under a half turn (see the module's doc)."""
    gen = rng(seed, name)
    edge = torch.ones((6, 8))
    edge[:, 2:6] = 0
    return [
        ((1, 2), edge, torch.tensor([[1.0, 1.0]]), torch.tensor([0.5]), torch.float32),
        ((3, 2), torch.randn(6, 5, generator=gen), half_turn_symmetric(torch.randn(3, 2, generator=gen)),
         torch.randn(1, generator=gen), torch.float32),
        ((2, 2), torch.randn(4, 7, generator=gen, dtype=torch.float64),
         half_turn_symmetric(torch.randn(2, 2, generator=gen, dtype=torch.float64)),
         torch.tensor([-1.25], dtype=torch.float64), torch.float64),
    ]


@check("Conv2D", points=2, name="Conv2D's forward is corr2d(x, weight) + bias")
def test_conv2d_forward(student, seed, devices):
    for device in devices:
        for case, (kernel_size, x, W, b, dtype) in enumerate(forward_cases(seed, "test_conv2d_forward")):
            x, W, b = x.to(device), W.to(device), b.to(device)
            conv = student.Conv2D(kernel_size).to(device=device, dtype=dtype)
            set_parameters(conv, W, b)
            out = expect_tensor(conv(x), "Conv2D's forward")
            expected = ref_corr2d(x, W) + b
            if not interior_close(out, expected):
                values = describe(W, values_only=True) if W.numel() <= 4 else "of shape " + shape_text(W.shape)
                # the first case is the notebook's edge image: its maps may be shown
                given = (worked_example if case == 0 else inputs)(x=x, weight=W, bias=b)
                values_differ(f"Conv2D's forward returned {describe(out)} for x of shape {shape_text(x.shape)}, "
                              f"weight = {values}, bias = {describe(b, values_only=True)} ({str(dtype).replace('torch.', '')} on "
                              f"{device}); expected corr2d(x, weight) + bias = {describe(expected)}",
                              out, expected, given, tolerance(out.dtype, dtype), CONV2D_MISTAKES)


def gradient_cases(seed):
    """Kernels without symmetry here: a flipped corr2d then differs from torch, and its
    gradients are judged as those of what it computed."""
    gen = rng(seed, "test_conv2d_gradients")
    return [((3, 2), torch.randn(6, 5, generator=gen), torch.randn(3, 2, generator=gen),
             torch.randn(1, generator=gen), torch.float32),
            ((2, 2), torch.randn(4, 7, generator=gen, dtype=torch.float64),
             torch.randn(2, 2, generator=gen, dtype=torch.float64), torch.tensor([-1.25], dtype=torch.float64),
             torch.float64)]


@check("Conv2D", points=2, name="Conv2D's gradients reach weight and bias")
def test_conv2d_gradients(student, seed, devices):
    gen = rng(seed, "test_conv2d_gradients: output gradient")
    for device in devices:
        for kernel_size, x, W, b, dtype in gradient_cases(seed):
            x, W, b = x.to(device), W.to(device), b.to(device)
            conv = student.Conv2D(kernel_size).to(device=device, dtype=dtype)
            plain = set_parameters(conv, W, b)
            if plain:
                fail(f"no gradient can reach Conv2D's {' and '.join(f'`{n}`' for n in plain)}: load_state_dict "
                     f"did not load them, so they are not registered parameters ({PARAMETER_HINT})")
            out = expect_tensor(conv(x), "Conv2D's forward")
            G = torch.randn(tuple(out.shape), generator=gen, dtype=torch.float64).to(
                dtype=out.dtype, device=out.device)
            reply = conv.run(x, backward=G)
            grads = reply.param_grads or {}
            # judged with the output of the call that computed the gradients, not an earlier one
            out = expect_tensor(reply.result, "Conv2D's forward")
            if tuple(out.shape) != tuple(G.shape):
                fail(f"Conv2D's forward returned outputs of shapes {shape_text(G.shape)} and {shape_text(out.shape)} "
                     f"for the same x of shape {shape_text(x.shape)}")
            on = f"x of shape {shape_text(x.shape)} and kernel_size {kernel_size}"
            for name, param in (("weight", W), ("bias", b)):
                grad = grads.get(name)
                if not isinstance(grad, torch.Tensor):
                    fail(f"no gradient reached Conv2D's `{name}` ({on}): either it is not a registered "
                         f"parameter ({PARAMETER_HINT}), or the forward's output is not connected to "
                         f"self.{name} in the autograd graph (if corr2d uses .item(), torch.tensor(...) or "
                         ".detach(), see the corr2d gradient check)")
                if grad.numel() != param.numel():
                    fail(f"the gradient of Conv2D's `{name}` has shape {shape_text(grad.shape)}; "
                         f"expected {shape_text(param.shape)}")
            gb = grads["bias"].detach().cpu().double().reshape(-1)
            if not within(gb[0], G.double().sum(), 1e-4 * (1 + float(G.double().abs().sum()))):
                fail(f"the gradient of Conv2D's bias ({on}) is {describe(gb, values_only=True)}; expected the sum of the "
                     f"output's gradient, {float(G.double().sum()):.6g}")
            expect_weight_gradient(grads["weight"], W, x, b, G, out, on)


def expect_weight_gradient(grad, W, x, b, G, out, on):
    """torch's gradient when the forward is torch's; otherwise that of what it computed (Euler's
    identity, the output minus the bias being linear in W), on a finite output that is not all
    zeros: a corr2d mistake is corr2d's checks' business."""
    gw = grad.detach().cpu().double().reshape(W.shape)
    Wr = W.detach().cpu().double().clone().requires_grad_(True)
    reference = ref_corr2d(x.detach().cpu().double(), Wr) + b.detach().cpu().double()
    got = out.detach().cpu().double()
    if tuple(got.shape) == tuple(reference.shape) and bool(
            torch.isclose(got, reference.detach(), rtol=1e-4, atol=1e-4).all()):
        reference.backward(G.detach().cpu().double())
        close = torch.isclose(gw, Wr.grad, rtol=1e-4, atol=1e-4) & torch.isfinite(gw)
        if not bool(close.all()):
            fail(f"the gradient of Conv2D's weight ({on}) is {describe(gw)}; torch's is {describe(Wr.grad)}")
        return
    linear = got - b.detach().cpu().double()
    if not bool(torch.isfinite(got).all()) or not bool((linear != 0).any()):
        fail(f"Conv2D's forward returned {describe(out)} ({on}): its weight's gradient can only be judged on "
             "a finite output")
    lhs = float((W.detach().cpu().double() * gw).sum())
    rhs = float((G.detach().cpu().double() * linear).sum())
    if not within(lhs, rhs, 1e-3 * (1 + abs(rhs))):
        fail(f"the gradient of Conv2D's weight ({on}) is not the gradient of the output the forward "
             "returned: part of the forward is cut off from autograd")
