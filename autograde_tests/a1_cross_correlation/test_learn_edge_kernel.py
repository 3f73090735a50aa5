"""learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10): gradient descent on the summed squared error.

The starting kernel is nn.Conv2d's random init inside the student's function (uniform in
[-1/sqrt(2), 1/sqrt(2)] for a (1, 2) kernel), which the grader cannot seed. The checks are
therefore written so that they hold for EVERY starting kernel in that box. Gradient descent on
this quadratic loss is linear: with A = P^T P (P the (pixel, right neighbour) pairs) the error
e = w - w* evolves as e <- (I - 2 lr A) e, so the worst case over the box is exact:

- course edge image, lr=3e-2, 10 epochs: A has eigenvalues 6 and 30, the factors are 0.64^10
  and (-0.8)^10, and the largest deviation from [[1, -1]] over the whole init box is 0.0875
  (attained at a corner; the notebook author measured 0.087 over 2000 seeds). Tolerance 0.15.
  The mistakes stay far outside it for every start: no zero_grad (gradients accumulate) >= 0.30,
  the mean instead of the sum of squared errors >= 0.27, gradient ascent >= 6.3.
- lr=0 or num_epochs=0: the kernel cannot move, so the result lies in the init box
  (|w| <= 0.7072); a fixed lr or a fixed 10 epochs lands within 0.0875 of [[1, -1]], at least
  0.27 outside the box.
- the second image (check below) converges to 1e-6 in float32 in both 10 and 40 epochs, and
  with lr=3e-2 too, so ignoring lr or num_epochs does not matter there; accumulating gradients
  (>= 0.44 away), the mean loss (>= 0.38) and ascent (diverges) fail it for every start.
"""

import math

import torch

from grader.checks import check, expect_tensor, fail
from grader.student import StudentError

from .._corr2d_support import ref_corr2d, shape_text

INIT_BOUND = 1 / math.sqrt(2)  # nn.Conv2d(1, 1, (1, 2)) init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 2


def edge_image(device, dtype=torch.float32):
    X = torch.ones((6, 8), dtype=dtype)
    X[:, 2:6] = 0
    return X.to(device)


def edge_example(device, dtype=torch.float32):
    X = edge_image(device, dtype)
    return X, ref_corr2d(X, torch.tensor([[1.0, -1.0]], dtype=dtype, device=device))


def kernel_of(out, call):
    """The two kernel values, whatever the (wrong) shape; the shape has its own check."""
    expect_tensor(out, "learn_edge_kernel")
    if out.numel() != 2:
        fail(f"{call} returned a tensor of shape {shape_text(out.shape)}; expected the (1, 2) kernel")
    return out.detach().cpu().double().reshape(1, 2)


def fmt(kernel):
    return "[[" + ", ".join(f"{v:.4g}" for v in kernel.reshape(-1).tolist()) + "]]"


@check("learn_edge_kernel", points=2, name="learn_edge_kernel recovers [[1, -1]] from the course's edge image")
def test_learn_edge_kernel_course_example(student, devices):
    for device in devices:
        X, Y = edge_example(device)
        call = "learn_edge_kernel(X, Y) on the course's 6 x 8 edge image"
        kernel = kernel_of(student.learn_edge_kernel(X, Y), call)
        deviation = float((kernel - torch.tensor([[1.0, -1.0]], dtype=torch.float64)).abs().max())
        if not deviation <= 0.15:
            fail(f"{call} returned {fmt(kernel)} ({device}); after 10 epochs with lr=0.03 every random "
                 "start ends within 0.09 of [[1, -1]]. Check the loop: loss = sum of squared errors, "
                 "zero the gradient before each backward, then weight -= lr * grad")


@check("learn_edge_kernel", points=2, name="learn_edge_kernel learns a different kernel from other data")
def test_learn_edge_kernel_other_kernel(student, devices):
    target = torch.tensor([[0.5, -2.0]])
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(5, 6, generator=gen) * 2 - 1
    for device in devices:
        Xd = X.to(device)
        Y = ref_corr2d(Xd, target.to(device))
        call = "learn_edge_kernel(X, Y, lr=0.05, num_epochs=40) with Y = corr2d(X, [[0.5, -2]]), X random 5 x 6"
        kernel = kernel_of(student.learn_edge_kernel(Xd, Y, lr=0.05, num_epochs=40), call)
        if not float((kernel - target.double()).abs().max()) <= 1e-3:
            fail(f"{call} returned {fmt(kernel)} ({device}); expected [[0.5, -2]] (within 0.001: from "
                 "any start this converges). Check the loop: loss = sum of squared errors, zero the "
                 "gradient before each backward, then weight -= lr * grad")


@check("learn_edge_kernel", points=1, name="learn_edge_kernel uses its lr argument")
def test_learn_edge_kernel_uses_lr(student, devices):
    for device in devices:
        X, Y = edge_example(device)
        call = "learn_edge_kernel(X, Y, lr=0.0) on the course's edge image"
        kernel = kernel_of(student.learn_edge_kernel(X, Y, lr=0.0), call)
        if not float(kernel.abs().max()) <= INIT_BOUND + 1e-4:
            fail(f"{call} returned {fmt(kernel)}; with a learning rate of 0 the kernel cannot move, so "
                 "it must still be nn.Conv2d's random initial kernel (entries between -0.707 and 0.707). "
                 "Use the lr argument in the update instead of a fixed learning rate")


@check("learn_edge_kernel", points=1, name="learn_edge_kernel uses its num_epochs argument")
def test_learn_edge_kernel_uses_num_epochs(student, devices):
    for device in devices:
        X, Y = edge_example(device)
        call = "learn_edge_kernel(X, Y, num_epochs=0) on the course's edge image"
        kernel = kernel_of(student.learn_edge_kernel(X, Y, num_epochs=0), call)
        if not float(kernel.abs().max()) <= INIT_BOUND + 1e-4:
            fail(f"{call} returned {fmt(kernel)}; with 0 epochs no step is taken, so it must still be "
                 "nn.Conv2d's random initial kernel (entries between -0.707 and 0.707). Loop "
                 "`for _ in range(num_epochs)` instead of a fixed number of epochs")


@check("learn_edge_kernel", points=1, name="learn_edge_kernel returns a detached (1, 2) tensor")
def test_learn_edge_kernel_returns_detached_1x2(student, devices):
    for device in devices:
        X, Y = edge_example(device)
        out = expect_tensor(student.learn_edge_kernel(X, Y), "learn_edge_kernel")
        if tuple(out.shape) != (1, 2):
            fail(f"learn_edge_kernel(X, Y) returned shape {shape_text(out.shape)}; expected (1, 2): "
                 "reshape the (1, 1, 1, 2) weight of nn.Conv2d with .reshape(1, 2)")
        try:
            student.run("learn_edge_kernel", X, Y, backward=torch.ones(1, 2, device=out.device, dtype=out.dtype))
        except StudentError as error:
            if "does not require grad" in str(error) or "does not have a grad_fn" in str(error):
                continue
            raise
        fail("learn_edge_kernel(X, Y) returned a tensor that is still attached to the autograd graph "
             "of the weight; return conv.weight.detach().reshape(1, 2) (a detached copy)")


@check("learn_edge_kernel", points=1, name="learn_edge_kernel keeps X's dtype and device (float64)")
def test_learn_edge_kernel_dtype_device(student, devices):
    for device in devices:
        X, Y = edge_example(device, torch.float64)
        out = expect_tensor(student.learn_edge_kernel(X, Y), "learn_edge_kernel")
        if out.dtype != torch.float64:
            fail(f"learn_edge_kernel(X, Y) with a float64 X returned a {str(out.dtype).replace('torch.', '')} "
                 "kernel; move the layer to X's dtype and device: nn.Conv2d(...).to(dtype=X.dtype, device=X.device)")
        if out.device.type != torch.device(device).type:
            fail(f"learn_edge_kernel(X, Y) with X on {device} returned a kernel on {out.device}; "
                 "keep everything on X's device")
