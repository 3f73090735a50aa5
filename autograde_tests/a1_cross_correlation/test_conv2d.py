"""Conv2D(kernel_size): learnable weight (kernel_size) and bias (1,), forward = corr2d(x, weight) + bias.

Conv2D is graded on its own: its forward must equal torch's cross-correlation plus the bias,
or, when the student's corr2d is itself wrong (the corr2d checks say how, dtype included),
what that corr2d returns plus the bias, at the dtype it returns.
"""

import torch

from grader.checks import check, expect_tensor, fail, rng
from grader.student import StudentError

from .._corr2d_support import close, expect_values, ref_corr2d, shape_text

PARAMETER_HINT = ("wrap the tensors in nn.Parameter, e.g. self.weight = nn.Parameter(torch.rand(kernel_size)) "
                  "and self.bias = nn.Parameter(torch.zeros(1)); a plain tensor, even with "
                  "requires_grad=True, is not returned by parameters(), so an optimizer never updates it "
                  "and .to(device) does not move it")


def attribute(conv, name):
    """The tensor `conv.<name>`, registered parameter or plain attribute; None when absent."""
    state = conv.state()
    if name in state:
        return state[name]
    try:
        value = conv.method("__getattribute__", name)
    except Exception:
        return None
    return value if isinstance(value, torch.Tensor) else None


def set_parameters(conv, W, b):
    """Give the layer our weight and bias, whatever the student registered them as."""
    info = conv.parameters()
    shapes = {p["name"]: tuple(p["shape"]) for p in info["parameters"]}
    state = {}
    for name, value in (("weight", W), ("bias", b)):
        if name in shapes:
            shape = shapes[name]
            state[name] = value.reshape(shape) if value.numel() == _numel(shape) else value.expand(shape).clone()
        elif name in info["plain_tensors"]:
            conv.method("__setattr__", name, value)
        else:
            fail(f"Conv2D has no tensor attribute `{name}`; __init__ must set self.{name}")
    conv.load(state)


def _numel(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


@check("Conv2D", points=2, name="Conv2D registers weight and bias as parameters (nn.Parameter)")
def test_conv2d_parameters_registered(student, devices):
    conv = student.Conv2D((1, 2))
    info = conv.parameters()
    names = {p["name"]: p for p in info["parameters"]}
    for name in ("weight", "bias"):
        if name not in names:
            plain = name in info["plain_tensors"]
            fail(f"Conv2D((1, 2)).parameters() does not return `{name}`"
                 + (f" (self.{name} is a plain tensor)" if plain else "") + f": {PARAMETER_HINT}")
        if not names[name]["requires_grad"]:
            fail(f"the parameter `{name}` of Conv2D((1, 2)) has requires_grad=False; it must be learnable")
    extra = sorted(set(names) - {"weight", "bias"})
    if extra:
        fail(f"Conv2D((1, 2)) has parameters {extra} besides weight and bias; it should have exactly those two")


@check("Conv2D", points=1, name="Conv2D's weight has the shape kernel_size")
def test_conv2d_weight_shape(student, devices):
    for kernel_size in [(1, 2), (3, 2), (2, 4)]:
        weight = attribute(student.Conv2D(kernel_size), "weight")
        if weight is None:
            fail(f"Conv2D({kernel_size}) has no tensor attribute `weight`")
        if tuple(weight.shape) != kernel_size:
            fail(f"Conv2D({kernel_size}).weight has shape {shape_text(weight.shape)}; expected "
                 f"{shape_text(kernel_size)}, the kernel_size argument")


@check("Conv2D", points=1, name="Conv2D's bias has shape (1,)")
def test_conv2d_bias_shape(student, devices):
    for kernel_size in [(1, 2), (3, 3)]:
        bias = attribute(student.Conv2D(kernel_size), "bias")
        if bias is None:
            fail(f"Conv2D({kernel_size}) has no tensor attribute `bias`")
        if tuple(bias.shape) != (1,):
            fail(f"Conv2D({kernel_size}).bias has shape {shape_text(bias.shape)}; expected (1,): one "
                 "scalar bias stored as a 1-element tensor, torch.zeros(1)")


@check("Conv2D", points=1, name="Conv2D starts with a random weight in [0, 1) and a zero bias")
def test_conv2d_initial_values(student, devices):
    for kernel_size in [(3, 4), (2, 5)]:
        conv = student.Conv2D(kernel_size)
        weight, bias = attribute(conv, "weight"), attribute(conv, "bias")
        if weight is None or bias is None:
            fail(f"Conv2D({kernel_size}) needs tensor attributes `weight` and `bias`")
        if not bool(((weight >= 0) & (weight < 1)).all()) or bool((weight == weight.reshape(-1)[0]).all()):
            fail(f"Conv2D({kernel_size}).weight should start with random values in [0, 1) "
                 f"(torch.rand(kernel_size)); got values between {weight.min().item():.3g} and "
                 f"{weight.max().item():.3g}")
        if not bool((bias == 0).all()):
            fail(f"Conv2D({kernel_size}).bias should start at 0 (torch.zeros(1)); got {bias.tolist()}")


def forward_cases(seed, name):
    """The course's edge example (fixed), then two cases drawn from the submission's seed."""
    gen = rng(seed, name)
    edge = torch.ones((6, 8))
    edge[:, 2:6] = 0
    return [
        ((1, 2), edge, torch.tensor([[1.0, -1.0]]), torch.tensor([0.5]), torch.float32),
        ((3, 2), torch.randn(6, 5, generator=gen), torch.randn(3, 2, generator=gen),
         torch.randn(1, generator=gen), torch.float32),
        ((2, 2), torch.randn(4, 7, generator=gen, dtype=torch.float64),
         torch.randn(2, 2, generator=gen, dtype=torch.float64), torch.tensor([-1.25], dtype=torch.float64),
         torch.float64),
    ]


def own_corr2d(student, x, W):
    """The student's own corr2d(x, W), in a fresh copy of the executed notebook (None when it
    raises). Asked before the forward runs, so nothing the forward call does, not even a file
    it writes (files under /tmp outlive a call), can reach it."""
    try:
        own = student.fresh().corr2d(x, W)
    except StudentError:
        return None
    return own if isinstance(own, torch.Tensor) else None


def expected_forward(x, W, b, out, own):
    """torch's corr2d + b; or, when `out` differs from it, the student's own corr2d + b at the
    dtype that corr2d returns (a corr2d mistake, in values or dtype, is corr2d's checks'
    business, not the forward's)."""
    reference = ref_corr2d(x, W) + b
    if close(out, reference) or own is None:
        return reference, ()
    own_total = own.to(x.device) + b.to(own.dtype)
    if close(out, own_total, extra_dtypes=(own.dtype,)):
        return own_total, (own.dtype,)
    return reference, ()


@check("Conv2D", points=2, name="Conv2D's forward is corr2d(x, weight) + bias")
def test_conv2d_forward(student, seed, devices):
    for device in devices:
        for kernel_size, x, W, b, dtype in forward_cases(seed, "test_conv2d_forward"):
            x, W, b = x.to(device), W.to(device), b.to(device)
            own = own_corr2d(student, x, W.to(dtype))
            conv = student.Conv2D(kernel_size).to(device=device, dtype=dtype)
            set_parameters(conv, W, b)
            out = expect_tensor(conv(x), "Conv2D's forward")
            expected, own_dtypes = expected_forward(x, W, b, out, own)
            expect_values(out, expected, "Conv2D's forward",
                          f"x of shape {shape_text(x.shape)}, weight = "
                          f"{W.tolist() if W.numel() <= 4 else 'of shape ' + shape_text(W.shape)}, "
                          f"bias = {b.tolist()} ({str(dtype).replace('torch.', '')} on {device})",
                          extra_dtypes=own_dtypes)


@check("Conv2D", points=2, name="Conv2D's gradients reach weight and bias")
def test_conv2d_gradients(student, seed, devices):
    gen = rng(seed, "test_conv2d_gradients: output gradient")
    for device in devices:
        for kernel_size, x, W, b, dtype in forward_cases(seed, "test_conv2d_gradients")[1:]:
            x, W, b = x.to(device), W.to(device), b.to(device)
            # the precision of the student's own corr2d: its dtype is corr2d's checks' business
            own = own_corr2d(student, x, W.to(dtype))
            own_dtypes = (own.dtype,) if own is not None else ()
            conv = student.Conv2D(kernel_size).to(device=device, dtype=dtype)
            registered = {p["name"] for p in conv.parameters()["parameters"]}
            for name in ("weight", "bias"):
                if name not in registered:
                    fail(f"no gradient can reach Conv2D's `{name}`: it is not a registered parameter; "
                         f"{PARAMETER_HINT}")
            set_parameters(conv, W, b)
            out = expect_tensor(conv(x), "Conv2D's forward")
            G = torch.randn(tuple(out.shape), generator=gen, dtype=torch.float64).to(
                dtype=out.dtype, device=out.device)
            grads = conv.run(x, backward=G).param_grads or {}
            on = f"x of shape {shape_text(x.shape)} and kernel_size {kernel_size}"
            for name, param in (("weight", W), ("bias", b)):
                grad = grads.get(name)
                if grad is None:
                    fail(f"no gradient reached Conv2D's `{name}` ({on}): the forward's output is not "
                         f"connected to self.{name} in the autograd graph (if corr2d uses .item(), "
                         "torch.tensor(...) or .detach(), see the corr2d gradient check)")
                if grad.numel() != param.numel():
                    fail(f"the gradient of Conv2D's `{name}` has shape {shape_text(grad.shape)}; "
                         f"expected {shape_text(param.shape)}")
            gb = grads["bias"].reshape(b.shape)
            expect_values(gb, G.sum().reshape(1).to(gb.dtype), "the gradient of Conv2D's bias", on)
            gw = grads["weight"].reshape(W.shape)
            Wr = W.detach().clone().requires_grad_(True)
            reference = ref_corr2d(x, Wr) + b
            if close(out, reference):
                reference.backward(G.to(dtype=reference.dtype, device=reference.device))
                expect_values(gw, Wr.grad, "the gradient of Conv2D's weight", on,
                              extra_dtypes=(out.dtype, *own_dtypes))
            else:
                # the forward is wrong (test_conv2d_forward / the corr2d checks say how): the weight's
                # gradient must still be that of what was computed (Euler's identity, linear in W)
                lhs = float((W.cpu().double() * gw.detach().cpu().double()).sum())
                rhs = float((G.cpu().double() * (out.detach().cpu().double() - b.cpu().double())).sum())
                if abs(lhs - rhs) > 1e-3 * (1 + abs(rhs)):
                    fail(f"the gradient of Conv2D's weight ({on}) is not the gradient of the output "
                         "the forward returned: part of the forward is cut off from autograd")
