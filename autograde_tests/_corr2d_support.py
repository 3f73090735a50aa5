"""Helpers shared by the a1 and a2 suites (both grade cross-correlation): torch references, value comparisons that leave dtype and device
to their own checks, and gradient checks that do not depend on the forward being right.

One mistake should cost only the checks aimed at it. So:
- `expect_values` compares shape and values only (on the CPU, at the looser tolerance of the
  two dtypes); dtype and device have their own checks.
- `expect_gradients` compares the gradients with torch's when the student's forward agrees
  with torch; when it does not (another check reports that), it still demands that
  gradients reach every input and are the gradients of what the student computed, using
  Euler's identity for a function that is linear in each argument:
  sum(G * f(X, K)) = sum(X * dL/dX) = sum(K * dL/dK) with L = sum(G * f(X, K)).
"""

import torch
import torch.nn.functional as F

from grader.engine.checks import (agree, default_tolerance, describe, expect_tensor, fail, first_difference, inputs,
                                  values_differ, within, worked_example)
from grader.engine.student import StudentError

# Names whose use turns corr2d into a call of torch's own convolution (or of a pooling
# layer, which computes a windowed sum as well). Tensor.unfold / F.unfold included.
FORBIDDEN = ["conv2d", "Conv2d", "conv1d", "Conv1d", "conv3d", "convolution", "_convolution",
             "conv_transpose2d", "ConvTranspose2d", "unfold", "Unfold",
             "avg_pool2d", "AvgPool2d", "lp_pool2d", "correlate", "correlate2d", "convolve",
             "convolve2d", "fftconvolve"]
FORBIDDEN_REASON = ("the point of this exercise is to compute the windowed sums yourself; "
                    "torch's convolution, unfold and pooling functions are not allowed here")

NO_GRAPH_HINT = ("build the output from tensor operations on the inputs (for example write "
                 "`(X[i:i + h, j:j + w] * K).sum()` into a tensor made with torch.zeros); do not use "
                 ".item(), .tolist(), .data, .detach(), torch.tensor(...) of computed values, or NumPy")


def ref_corr2d(X, K):
    """torch's cross-correlation of a 2-D X with a 2-D K."""
    return F.conv2d(X[None, None], K[None, None])[0, 0]


def ref_conv_flipped(X, K):
    """The mathematical convolution: cross-correlation with the kernel turned by 180 degrees."""
    return ref_corr2d(X, torch.flip(K, dims=(0, 1)))


def tolerance(*dtypes):
    """The loosest of torch.testing.assert_close's defaults (grader.engine.checks) over `dtypes`."""
    tol = {"rtol": 0.0, "atol": 0.0}
    for dtype in dtypes:
        for key, value in default_tolerance(dtype).items():
            tol[key] = max(tol[key], value)
    return tol


def close(actual, expected, extra_dtypes=()):
    """Shape and values agree (any dtype, any device)."""
    if not isinstance(actual, torch.Tensor) or tuple(actual.shape) != tuple(expected.shape):
        return False
    a = actual.detach().cpu().to(torch.float64)
    e = expected.detach().cpu().to(torch.float64)
    return bool(agree(a, e, **tolerance(actual.dtype, expected.dtype, *extra_dtypes)).all())


def expect_values(actual, expected, what, on, extra_dtypes=(), mistakes=()):
    """`actual` has `expected`'s shape and values; dtype and device are checked elsewhere.
    `mistakes`: the known mistakes a failure is compared with (grader.engine.diagnoses)."""
    expect_tensor(actual, what)
    where = f" for {on}" if on else ""
    tol = tolerance(actual.dtype, expected.dtype, *extra_dtypes)
    if tuple(actual.shape) != tuple(expected.shape):
        values_differ(f"{what} returned shape {tuple(actual.shape)}{where}; expected {tuple(expected.shape)}",
                      actual, expected, on, tol, mistakes)
    a = actual.detach().cpu().to(torch.float64)
    e = expected.detach().cpu().to(torch.float64)
    ok = agree(a, e, **tol)
    if not bool(ok.all()):
        values_differ(f"{what} returned wrong values{where}: {first_difference(a, e, ok)}",
                      a, e, on, tol, mistakes)




def call_with_backward(student, name, args, G, what, kwargs=None):
    """student.run(name, *args, backward=G), with a clear message when no graph was built."""
    try:
        return student.run(name, *args, backward=G, **(kwargs or {}))
    except StudentError as error:
        text = str(error)
        if "does not require grad" in text or "does not have a grad_fn" in text:
            fail(f"{what}'s output is not connected to its inputs in the autograd graph, so no "
                 f"gradient can flow back: {NO_GRAPH_HINT}")
        raise


def expect_gradients(student, name, args, reference, what, on, gen, kwargs=None):
    """Gradients of sum(G * name(*args)) w.r.t. every tensor in args.

    `reference(*args)` is torch's version. When the student's forward (the output of the call
    that computed the gradients) agrees with it, the gradients must agree with torch's;
    otherwise they must at least exist and satisfy Euler's identity for the (multi-)linear
    function that call computed.
    """
    args = [a.detach().clone().requires_grad_(True) for a in args]
    kwargs = kwargs or {}
    out = expect_tensor(student.run(name, *args, **kwargs).result, what)
    expected = reference(*args)
    G = torch.randn(tuple(out.shape), generator=gen, dtype=torch.float64).to(
        dtype=out.dtype, device=out.device)
    reply = call_with_backward(student, name, args, G, what, kwargs)
    # the gradients are judged with the output of the same call, never one an earlier call gave
    out = expect_tensor(reply.result, what)
    if tuple(out.shape) != tuple(G.shape):
        fail(f"{what} returned outputs of shapes {tuple(G.shape)} and {tuple(out.shape)} for the same inputs"
             f"{' (' + on + ')' if on else ''}")
    grads = list(reply.input_grads or [])
    names = ["X", "K", "third argument"]
    for i, arg in enumerate(args):
        grad = grads[i] if i < len(grads) else None
        if grad is None:
            fail(f"no gradient reached {names[i]} through {what}{' for ' + on if on else ''}: "
                 f"{NO_GRAPH_HINT}")
        expect_tensor(grad, f"the gradient of {names[i]}")
        if tuple(grad.shape) != tuple(arg.shape):
            fail(f"the gradient of {names[i]} has shape {tuple(grad.shape)}, expected {tuple(arg.shape)}")
    if close(out, expected):
        torch.autograd.backward(expected, G.to(dtype=expected.dtype, device=expected.device))
        for i, arg in enumerate(args):
            expect_values(grads[i], arg.grad, f"the gradient of {names[i]} through {what}", on,
                          extra_dtypes=(out.dtype,))
        return
    # The forward differs from torch (other checks say how); judge the gradients of what it
    # computed. Only a finite output that is not all zeros can vouch for them (the identity
    # holds trivially for an output of zeros).
    values = out.detach().cpu().double()
    if not bool(torch.isfinite(values).all()) or not bool((values != 0).any()):
        fail(f"{what} returned {describe(out)}{' for ' + on if on else ''}; its gradients can only be "
             "judged on a finite output that is not all zeros")
    total = (G.detach().cpu().double() * out.detach().cpu().double()).sum()
    for i, arg in enumerate(args):
        euler = (arg.detach().cpu().double() * grads[i].detach().cpu().double()).sum()
        scale = 1.0 + abs(float(total)) + float((arg.detach().cpu().double().abs()
                                                 * grads[i].detach().cpu().double().abs()).sum())
        if not within(euler, total, 1e-4 * scale):
            fail(f"the gradient of {names[i]} through {what}{' for ' + on if on else ''} is not "
                 f"the gradient of the output it returned: part of the computation is cut off "
                 f"from autograd ({NO_GRAPH_HINT})")


def half_turn_symmetric(K):
    """K plus K turned by 180 degrees: a kernel for which cross-correlation and convolution agree,
    so a flipped kernel (corr2d's own check) does not change a result judged with it."""
    return K + torch.flip(K, dims=(0, 1))


def interior_close(actual, expected):
    """`actual` agrees with torch's `expected` on every output position but the last row and
    column, and has at most one row and column fewer: what a corr2d gives whose only mistakes
    are in its output size or its borders (corr2d's own checks). Float32 tolerance, NaN never."""
    if not isinstance(actual, torch.Tensor) or actual.dim() != 2 or expected.dim() != 2:
        return False
    rows, cols = (min(int(a), int(e)) for a, e in zip(actual.shape, expected.shape))
    if rows < expected.shape[0] - 1 or cols < expected.shape[1] - 1 or rows < 2 or cols < 2:
        return False
    a = actual.detach().cpu().double()[:rows - 1, :cols - 1]
    e = expected.detach().cpu().double()[:rows - 1, :cols - 1]
    return bool(agree(a, e, **tolerance(torch.float32)).all())


def call_twice_on_the_same_tensors(student, name, tensors, *rest, **kwargs):
    """Two results of `name`(*tensors, *rest, **kwargs) with one and the same tensors in the
    sandbox (a call sends fresh copies of its arguments): an answer that changes its inputs in
    place computes the second result from what the first call left behind. The tensors are
    bound with Python's own method binding, so no method of the student's tensors is trusted."""
    def ask(target, method, args, kw=None):
        return student._call(f"`{name}`", target, method, tuple(args), kw or {}, None, False, None).result

    module = student.torch_module(["Identity"])
    method_type = module.method("__getattribute__", "forward").method("__getattribute__", "__class__")
    bound = ask(name, "__getattribute__", ["__call__"])
    for tensor in tensors:  # MethodType(f, a)(*r) is f(a, *r)
        bound = method_type(bound, tensor)
    return [ask(bound.handle, None, rest, kwargs) for _ in range(2)]


def expect_runs(student, name, *args):
    """The exercise is answered at all (a stub raises): needed before a static check can pass."""
    expect_tensor(student.run(name, *args).result, f"`{name}`")




def shape_text(shape):
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


__all__ = ["half_turn_symmetric", "interior_close", "call_twice_on_the_same_tensors", "FORBIDDEN", "FORBIDDEN_REASON", "ref_corr2d", "ref_conv_flipped", "tolerance", "close",
           "expect_values", "expect_gradients", "call_with_backward", "expect_runs", "describe",
           "shape_text", "NO_GRAPH_HINT", "inputs", "worked_example"]
