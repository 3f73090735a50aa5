"""Trusted references for a5_lenet: the two networks written in plain torch, seeded
parameters, the usual wrong versions of their forward passes (to say which mistake a
student made), and helpers that set up the student's modules in the sandbox.

Nothing here comes from the solution notebook: the architectures are the contract's
(CONTRACT.md section 1) and the notebook's given `__init__`.
"""

import functools
import itertools

import torch
import torch.nn.functional as F
from torch import nn

from grader.engine.checks import describe, fail, rng
from grader.engine.student import RemoteObject


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


# -- wrong versions of the forward passes ---------------------------------------------

def _act(name, x):
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "relu":
        return torch.relu(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "none":
        return x
    if name == "softmax":
        return torch.softmax(x, dim=-1)
    if name == "log_softmax":
        return torch.log_softmax(x, dim=-1)
    raise ValueError(name)


def lenet_functional(p, x, pools=("avg", "avg"), acts=("sigmoid",) * 4, final="none"):
    def pool(kind, t):
        return F.avg_pool2d(t, 2, 2) if kind == "avg" else F.max_pool2d(t, 2, 2)
    x = pool(pools[0], _act(acts[0], F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=2)))
    x = pool(pools[1], _act(acts[1], F.conv2d(x, p["conv2.weight"], p["conv2.bias"])))
    x = x.flatten(1)
    x = _act(acts[2], F.linear(x, p["fc1.weight"], p["fc1.bias"]))
    x = _act(acts[3], F.linear(x, p["fc2.weight"], p["fc2.bias"]))
    return _act(final, F.linear(x, p["fc3.weight"], p["fc3.bias"]))


def cifarnet_functional(p, x, acts=("tanh",) * 3, final="none", order=(0, 1, 2, 3)):
    x = F.max_pool2d(_act(acts[0], F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=1)), 2)
    x = F.max_pool2d(_act(acts[1], F.conv2d(x, p["conv2.weight"], p["conv2.bias"], padding=1)), 2)
    x = x.permute(*order).reshape(x.shape[0], -1)
    x = _act(acts[2], F.linear(x, p["fc1.weight"], p["fc1.bias"]))
    return _act(final, F.linear(x, p["fc2.weight"], p["fc2.bias"]))


_POSITIONS = ("conv1", "conv2", "fc1", "fc2")


def _subsets(n):
    for mask in itertools.product((False, True), repeat=n):
        if any(mask):
            yield mask


def _lenet_variants():
    """(aspect, description, kwargs) for the single mistakes students make in LeNet.forward."""
    out = []
    for pools, where in [(("max", "avg"), "after conv1"), (("avg", "max"), "after conv2"),
                         (("max", "max"), "after both convolutions")]:
        out.append(("pooling", f"max pooling instead of average pooling {where}", {"pools": pools}))
    # where students change or drop activations: everywhere, in one part, or at one layer
    masks = [(True,) * 4, (True, True, False, False), (False, False, True, True)]
    masks += [tuple(i == j for j in range(4)) for i in range(4)]
    for wrong, aspect, what in [("relu", "sigmoid", "ReLU instead of sigmoid"),
                                ("none", "missing", "no activation")]:
        for mask in masks:
            acts = tuple(wrong if m else "sigmoid" for m in mask)
            where = ", ".join(p for p, m in zip(_POSITIONS, mask) if m)
            out.append((aspect, f"{what} after {where}", {"acts": acts}))
    out.append(("sigmoid", "tanh instead of sigmoid", {"acts": ("tanh",) * 4}))
    for final in ("sigmoid", "softmax", "log_softmax", "relu"):
        out.append(("final", f"a {final} applied to the output of fc3", {"final": final}))
    return out


def _cifarnet_variants():
    out = []
    names = ("conv1 (act1)", "conv2 (act2)", "fc1 (act3)")
    for mask in _subsets(3):
        acts = tuple("none" if m else "tanh" for m in mask)
        where = ", ".join(n for n, m in zip(names, mask) if m)
        out.append(("activations", f"no tanh after {where}", {"acts": acts}))
    for wrong in ("relu", "sigmoid"):
        out.append(("activations", f"{wrong} instead of tanh", {"acts": (wrong,) * 3}))
    for final in ("tanh", "sigmoid", "softmax", "log_softmax", "relu"):
        out.append(("activations", f"a {final} applied to the output of fc2", {"final": final}))
    for order, what in [((0, 2, 3, 1), "channels last (permuted to (N, H, W, C))"),
                        ((0, 3, 2, 1), "with channels and width swapped (transpose(1, 3))"),
                        ((0, 1, 3, 2), "with height and width swapped")]:
        out.append(("flatten", f"a flatten that orders the features {what}", {"order": order}))
    return out


def _setup(net_name, seed, n):
    net = LENET if net_name == "LeNet" else CIFARNET
    fn, variants = ((lenet_functional, _lenet_variants()) if net_name == "LeNet"
                    else (cifarnet_functional, _cifarnet_variants()))
    return fn, variants, _params(net_name, seed), image_batch(net, n, seed, torch.float64)


@functools.lru_cache(maxsize=128)  # keyed by the submission's seed: keep the last few only
def _variant_output(net_name, seed, n, index):
    """torch's output (index None) or that of variant `index`, in float64 on the CPU."""
    fn, variants, p, x = _setup(net_name, seed, n)
    with torch.no_grad():
        return fn(p, x) if index is None else fn(p, x, **variants[index][2])


def _matches(actual, expected):
    if not isinstance(actual, torch.Tensor) or actual.numel() != expected.numel():
        return False
    # float32 student output against a float64 variant: float32 rounding only.
    a = actual.detach().to("cpu", torch.float64).reshape(expected.shape)
    return bool(torch.isclose(a, expected, rtol=1e-4, atol=1e-4).all())


def matching_variant(net, seed, n, actual):
    """-1 when `actual` is torch's output on image_batch(net, n, seed) with params(net, seed),
    the index of the usual mistake it matches, or None."""
    if _matches(actual, _variant_output(net.name, seed, n, None)):
        return -1
    variants = _lenet_variants() if net is LENET else _cifarnet_variants()
    for index in range(len(variants)):
        if _matches(actual, _variant_output(net.name, seed, n, index)):
            return index
    return None


def variant_gradients(net, seed, n, index, grad_output):
    """Autograd through torch's network (index -1) or the mistake `index`, in float64 on the CPU,
    on image_batch(net, n, seed) with params(net, seed): ({parameter: gradient}, input gradient)
    of sum(grad_output * output)."""
    fn, variants, p, x = _setup(net.name, seed, n)
    p = {k: v.detach().clone().requires_grad_(True) for k, v in p.items()}
    x = x.detach().clone().requires_grad_(True)
    out = fn(p, x) if index == -1 else fn(p, x, **variants[index][2])
    out.backward(grad_output.detach().cpu().to(torch.float64).reshape(out.shape))
    return {k: v.grad for k, v in p.items()}, x.grad


def diagnose(net, seed, n, actual):
    """'reference', or (aspect, description) of the known mistake `actual` matches, or None,
    for the output on image_batch(net, n, seed) with params(net, seed)."""
    if _matches(actual, _variant_output(net.name, seed, n, None)):
        return "reference"
    variants = _lenet_variants() if net is LENET else _cifarnet_variants()
    for index, (aspect, what, _) in enumerate(variants):
        if _matches(actual, _variant_output(net.name, seed, n, index)):
            return aspect, what
    return None
