"""Trusted references for a5_lenet: the two networks written in plain torch, seeded
parameters, which of the usual mistakes in their forward passes (mistakes.py) a student's
output matches, and helpers that set up the student's modules in the sandbox.

Nothing here comes from the solution notebook: the architectures are the contract's
(CONTRACT.md section 1) and the notebook's given `__init__`.
"""

import functools

import torch
from torch import nn

from grader.engine.checks import describe, fail, rng
from grader.engine.student import RemoteObject

from . import mistakes


# -- the architectures --------------------------------------------------------------

class RefLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.pool1 = nn.AvgPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool2 = nn.AvgPool2d(kernel_size=2, stride=2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool1(torch.sigmoid(self.conv1(x)))
        x = self.pool2(torch.sigmoid(self.conv2(x)))
        x = x.flatten(1)
        x = torch.sigmoid(self.fc1(x))
        x = torch.sigmoid(self.fc2(x))
        return self.fc3(x)


class RefCifarNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.act1 = nn.Tanh()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1)
        self.act2 = nn.Tanh()
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(8 * 8 * 8, 32)
        self.act3 = nn.Tanh()
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = x.flatten(1)
        x = self.act3(self.fc1(x))
        return self.fc2(x)


class Net:
    """What the suite knows about one of the two networks."""

    def __init__(self, name, cls, image, n_out, total):
        self.name, self.cls, self.image, self.n_out, self.total = name, cls, image, n_out, total
        ref = cls()
        self.params = [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
        self.children = [(n, type(c).__name__) for n, c in ref.named_children()]
        assert sum(p.numel() for p in ref.parameters()) == total

    def input_shape(self, n):
        return (n, *self.image)


LENET = Net("LeNet", RefLeNet, (1, 28, 28), 10, 61706)
CIFARNET = Net("CifarNet", RefCifarNet, (3, 32, 32), 2, 18090)


# -- seeded parameters and inputs ----------------------------------------------------

@functools.lru_cache(maxsize=8)  # keyed by the submission's seed: keep the last few only
def _params(net_name, seed):
    """Parameters drawn from the submission's seed so that every activation works in its
    sensitive range (the default init leaves a sigmoid network nearly constant, which would
    hide mistakes)."""
    net = LENET if net_name == "LeNet" else CIFARNET
    gen = rng(seed, f"{net_name} parameters")
    out = {}
    for name, shape in net.params:
        if name.endswith("weight"):
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            out[name] = torch.randn(shape, generator=gen, dtype=torch.float64) * (2.0 / fan_in ** 0.5)
        else:
            out[name] = torch.randn(shape, generator=gen, dtype=torch.float64) * 0.5
    return out


def params(net, seed, dtype=torch.float32):
    return {k: v.to(dtype) for k, v in _params(net.name, seed).items()}


def image_batch(net, n, seed, dtype=torch.float32, purpose="images"):
    """n images drawn from the submission's seed; `purpose` tells draws of one size apart."""
    gen = rng(seed, f"{net.name} {purpose} {n}")
    return torch.randn(net.input_shape(n), generator=gen, dtype=torch.float64).to(dtype)


def reference(net, state, x):
    """torch's output of `net` with parameters `state` on x (x's device and dtype)."""
    model = net.cls().to(device=x.device, dtype=x.dtype)
    model.load_state_dict({k: v.to(device=x.device, dtype=x.dtype) for k, v in state.items()})
    with torch.no_grad():
        return model(x)


# -- the student's modules -------------------------------------------------------------

def student_model(student, net, device="cpu", dtype=torch.float32, state=None):
    """A fresh student's `net` in the sandbox, on device/dtype, with `state` loaded.

    Fails with a clear message when the given __init__ was changed so that the
    parameters are not the contract's (the checks cannot load seeded parameters then).
    """
    model = getattr(student, net.name)()
    if not isinstance(model, RemoteObject):
        fail(f"{net.name}() should create an nn.Module, but returned {describe(model)}")
    got = [(p["name"], tuple(p["shape"])) for p in model.parameters()["parameters"]]
    if got != net.params:
        fail(f"your {net.name} has the parameters {_param_list(got)}; the given __init__ creates "
             f"{_param_list(net.params)}. Keep the layers of __init__ exactly as given and write only forward.")
    model.to(device=device, dtype=dtype)
    if state is not None:
        model.load(state)
    return model


def _param_list(pairs):
    text = ", ".join(f"{n} {tuple(s)}" for n, s in pairs)
    return text if len(text) <= 400 else text[:397] + "..."


# -- the usual single mistakes in forward (mistakes.py), by the aimed check that charges them --

ASPECTS = {"LeNet": [("pooling", mistakes.LENET_POOLING), ("sigmoid", mistakes.LENET_SIGMOID),
                     ("missing", mistakes.LENET_MISSING), ("final", mistakes.LENET_FINAL)],
           "CifarNet": [("activations", mistakes.CIFARNET_ACTIVATIONS), ("flatten", mistakes.CIFARNET_FLATTEN)]}
_FUNCTIONAL = {"LeNet": mistakes.lenet_functional, "CifarNet": mistakes.cifarnet_functional}


def variants(net):
    """[(aspect, Mistake)]: the single mistakes in `net`'s forward the checks score."""
    return [(aspect, mistake) for aspect, listed in ASPECTS[net.name] for mistake in listed]


def _setup(net_name, seed, n):
    net = LENET if net_name == "LeNet" else CIFARNET
    return _params(net_name, seed), image_batch(net, n, seed, torch.float64)


def _output(net, p, x, index):
    """torch's network (index -1 or None) or variant `index` on x with parameters p."""
    if index is None or index == -1:
        return _FUNCTIONAL[net.name](p, x)
    return variants(net)[index][1].returns(x=x, params=p)


@functools.lru_cache(maxsize=128)  # keyed by the submission's seed: keep the last few only
def _variant_output(net_name, seed, n, index):
    """torch's output (index None) or that of variant `index`, in float64 on the CPU."""
    p, x = _setup(net_name, seed, n)
    with torch.no_grad():
        return _output(LENET if net_name == "LeNet" else CIFARNET, p, x, index)


def _matches(actual, expected):
    if not isinstance(actual, torch.Tensor) or actual.numel() != expected.numel():
        return False
    # float32 student output against a float64 variant: float32 rounding only.
    a = actual.detach().to("cpu", torch.float64).reshape(expected.shape)
    return bool(torch.isclose(a, expected, rtol=1e-4, atol=1e-4).all())


def matching_variant(net, seed, n, actual):
    """-1 when `actual` is torch's output on image_batch(net, n, seed) with params(net, seed),
    the index in variants(net) of the usual mistake it matches, or None."""
    if _matches(actual, _variant_output(net.name, seed, n, None)):
        return -1
    for index in range(len(variants(net))):
        if _matches(actual, _variant_output(net.name, seed, n, index)):
            return index
    return None


def variant_gradients(net, seed, n, index, grad_output):
    """Autograd through torch's network (index -1) or the mistake `index`, in float64 on the CPU,
    on image_batch(net, n, seed) with params(net, seed): ({parameter: gradient}, input gradient)
    of sum(grad_output * output)."""
    p, x = _setup(net.name, seed, n)
    p = {k: v.detach().clone().requires_grad_(True) for k, v in p.items()}
    x = x.detach().clone().requires_grad_(True)
    out = _output(net, p, x, index)
    out.backward(grad_output.detach().cpu().to(torch.float64).reshape(out.shape))
    return {k: v.grad for k, v in p.items()}, x.grad
