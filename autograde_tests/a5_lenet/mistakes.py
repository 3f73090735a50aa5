"""The known mistakes of LeNet.forward and CifarNet.forward (grader.engine.diagnoses): what each
network returns with one usual mistake, for the input `x` and the parameters `params` (a state
dict) of the call that failed, computed here with torch.

The lists per aspect (pooling, activations, the final layer, the flatten order) are also the
single mistakes the aimed checks charge (_netchecks.check_aspect): an output that fits one of
them is scored as that mistake, whatever check it is. The *_FORWARD lists add mistakes that are
diagnosed only, never scored."""

import itertools

import torch
import torch.nn.functional as F

from grader.engine.diagnoses import Mistake

LENET = "1. LeNet"
CIFARNET = "2. The CIFAR model that breaks without a flatten / 펼치기 없이는 실패하는 CIFAR 모델"

_ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh, "none": lambda x: x,
                "softmax": lambda x: torch.softmax(x, dim=-1),
                "log_softmax": lambda x: torch.log_softmax(x, dim=-1)}


def _flatten(x, keep_batch):
    return x.flatten(1) if keep_batch else x.flatten()


def lenet_functional(p, x, pools=("avg", "avg"), acts=("sigmoid",) * 4, final="none",
                     pool_first=False, keep_batch=True):
    """LeNet on x with parameters p; the keywords plant its usual mistakes."""
    p = {k: v.to(x.device, x.dtype) for k, v in p.items()}

    def stage(x, pool, act):
        pool = F.avg_pool2d if pool == "avg" else F.max_pool2d
        return _ACTIVATIONS[act](pool(x, 2, 2)) if pool_first else pool(_ACTIVATIONS[act](x), 2, 2)
    x = stage(F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=2), pools[0], acts[0])
    x = stage(F.conv2d(x, p["conv2.weight"], p["conv2.bias"]), pools[1], acts[1])
    x = _flatten(x, keep_batch)
    x = _ACTIVATIONS[acts[2]](F.linear(x, p["fc1.weight"], p["fc1.bias"]))
    x = _ACTIVATIONS[acts[3]](F.linear(x, p["fc2.weight"], p["fc2.bias"]))
    return _ACTIVATIONS[final](F.linear(x, p["fc3.weight"], p["fc3.bias"]))


def cifarnet_functional(p, x, acts=("tanh",) * 3, final="none", order=(0, 1, 2, 3), keep_batch=True):
    """CifarNet on x with parameters p; the keywords plant its usual mistakes."""
    p = {k: v.to(x.device, x.dtype) for k, v in p.items()}
    x = F.max_pool2d(_ACTIVATIONS[acts[0]](F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=1)), 2)
    x = F.max_pool2d(_ACTIVATIONS[acts[1]](F.conv2d(x, p["conv2.weight"], p["conv2.bias"], padding=1)), 2)
    x = _flatten(x.permute(*order).contiguous(), keep_batch)
    x = _ACTIVATIONS[acts[2]](F.linear(x, p["fc1.weight"], p["fc1.bias"]))
    return _ACTIVATIONS[final](F.linear(x, p["fc2.weight"], p["fc2.bias"]))


def _lenet(id, name, **planted):
    return Mistake(f"lenet_{id}", f"a LeNet with {name}", LENET,
                   lambda x, params: lenet_functional(params, x, **planted))


def _cifarnet(id, name, **planted):
    return Mistake(f"cifarnet_{id}", f"a CifarNet with {name}", CIFARNET,
                   lambda x, params: cifarnet_functional(params, x, **planted))


def _where(layers, mask):
    chosen = [layer for layer, wrong in zip(layers, mask) if wrong]
    return chosen, (", ".join(chosen[:-1]) + " and " + chosen[-1]) if len(chosen) > 1 else chosen[0]


# where students change or drop LeNet's activations: everywhere, in one part, or at one layer
_LENET_LAYERS = ("conv1", "conv2", "fc1", "fc2")
_LENET_MASKS = [(True,) * 4, (True, True, False, False), (False, False, True, True),
                *(tuple(i == j for j in range(4)) for i in range(4))]


def _lenet_activations(wrong, id, what):
    mistakes = []
    for mask in _LENET_MASKS:
        chosen, where = _where(_LENET_LAYERS, mask)
        acts = tuple(wrong if m else "sigmoid" for m in mask)
        suffix = "" if all(mask) else "_" + "_".join(chosen)
        mistakes.append(_lenet(f"{id}{suffix}", f"{what} after {where}", acts=acts))
    return mistakes


LENET_POOLING = [
    _lenet("max_pool_conv1", "max pooling instead of average pooling after conv1", pools=("max", "avg")),
    _lenet("max_pool_conv2", "max pooling instead of average pooling after conv2", pools=("avg", "max")),
    _lenet("max_pool", "max pooling instead of average pooling after both convolutions", pools=("max", "max")),
]
LENET_SIGMOID = [*_lenet_activations("relu", "relu", "ReLU instead of sigmoid"),
                 _lenet("tanh", "tanh instead of sigmoid everywhere", acts=("tanh",) * 4)]
LENET_MISSING = _lenet_activations("none", "no_sigmoid", "no sigmoid")
LENET_FINAL = [_lenet(f"final_{final}", f"a {final} applied to the output of fc3", final=final)
               for final in ("sigmoid", "softmax", "log_softmax", "relu")]
LENET_FORWARD = [*LENET_POOLING, *LENET_SIGMOID, *LENET_MISSING, *LENET_FINAL,
                 _lenet("batch_flattened", "the batch flattened into one row (x.flatten() or x.view(-1) "
                        "instead of x.flatten(1))", keep_batch=False),
                 _lenet("pool_before_sigmoid", "each average pool applied before its sigmoid instead of "
                        "after it", pool_first=True)]

_CIFARNET_LAYERS = ("conv1 (act1)", "conv2 (act2)", "fc1 (act3)")
_CIFARNET_MASKS = [mask for mask in itertools.product((False, True), repeat=3) if any(mask)]


def _cifarnet_missing(mask):
    chosen, where = _where(_CIFARNET_LAYERS, mask)
    return _cifarnet("no_tanh_" + "_".join(c.split()[0] for c in chosen), f"no tanh after {where}",
                     acts=tuple("none" if m else "tanh" for m in mask))


CIFARNET_ACTIVATIONS = [
    *(_cifarnet_missing(mask) for mask in _CIFARNET_MASKS),
    *(_cifarnet(f"{wrong.lower()}_for_tanh", f"{wrong} instead of tanh everywhere", acts=(wrong.lower(),) * 3)
      for wrong in ("ReLU", "sigmoid")),
    *(_cifarnet(f"final_{final}", f"a {final} applied to the output of fc2", final=final)
      for final in ("tanh", "sigmoid", "softmax", "log_softmax", "relu")),
]
CIFARNET_FLATTEN = [
    _cifarnet("channels_last_flatten", "a flatten that orders the features channels last (permuted to "
              "(N, H, W, C))", order=(0, 2, 3, 1)),
    _cifarnet("channels_width_swapped_flatten", "a flatten that orders the features with channels and "
              "width swapped (transpose(1, 3))", order=(0, 3, 2, 1)),
    _cifarnet("height_width_swapped_flatten", "a flatten that orders the features with height and width "
              "swapped", order=(0, 1, 3, 2)),
]
CIFARNET_FORWARD = [*CIFARNET_ACTIVATIONS, *CIFARNET_FLATTEN,
                    _cifarnet("batch_flattened", "the batch flattened into one row (torch.flatten(x) or "
                              "x.view(-1) instead of x.flatten(1))", keep_batch=False)]
