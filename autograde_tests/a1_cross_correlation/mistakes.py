"""The known mistakes of a1's exercises (grader.engine.diagnoses): what each returns for the
inputs of the call that failed, computed here with torch."""

import torch

from grader.engine.diagnoses import Mistake

from .._corr2d_support import ref_conv_flipped, ref_corr2d

BY_HAND = "2. Cross-correlation by hand"
CORR2D = "3. Exercise: `corr2d`"
CONV2D = "4. Exercise: the `Conv2D` layer"
LEARN = "6. Exercise: learning the edge kernel"

DEFAULT_LR, DEFAULT_EPOCHS = 3e-2, 10  # learn_edge_kernel's defaults


def _last_row_and_column_zero(X, K):
    out = ref_corr2d(X, K).clone()
    out[-1, :] = 0
    out[:, -1] = 0
    return out


CORR2D_MISTAKES = [
    Mistake("corr2d_flipped_kernel", "a kernel turned by 180 degrees (the textbook convolution, "
            "not cross-correlation)", BY_HAND, ref_conv_flipped),
    Mistake("corr2d_one_short", "an output one row and one column short (range(H - h) instead of "
            "range(H - h + 1))", CORR2D, lambda X, K: ref_corr2d(X, K)[:-1, :-1]),
    Mistake("corr2d_last_row_column_zero", "loops that stop one short and leave the last row and "
            "column of the output at zero", CORR2D, _last_row_and_column_zero),
    Mistake("corr2d_transposed", "an output transposed (rows and columns swapped)", CORR2D,
            lambda X, K: ref_corr2d(X, K).T),
]

CONV2D_MISTAKES = [
    Mistake("conv2d_missing_bias", "a forward that leaves out the bias (corr2d(x, weight) alone)", CONV2D,
            lambda x, weight, bias: ref_corr2d(x, weight)),
    Mistake("conv2d_bias_twice", "a forward that adds the bias twice", CONV2D,
            lambda x, weight, bias: ref_corr2d(x, weight) + 2 * bias),
]


def descend(k0, X, Y, lr, num_epochs, zero_grad=True, mean=False, sign=1.0):
    """Gradient descent on sum((corr2d(X, k) - Y) ** 2) from k0, in float64 here; the keyword
    arguments make the usual mistakes (LEARN_MISTAKES). Autograd is on even where the caller
    turned it off (a diagnosis is computed under torch.no_grad())."""
    X, Y = X.detach().cpu().double(), Y.detach().cpu().double()
    k = k0.detach().cpu().double().reshape(1, 2).clone().requires_grad_(True)
    with torch.enable_grad():
        for _ in range(num_epochs):
            error = (ref_corr2d(X, k) - Y) ** 2
            loss = error.mean() if mean else error.sum()
            if zero_grad:
                k.grad = None
            loss.backward()
            with torch.no_grad():
                k -= sign * lr * k.grad
    return k.detach()


# What learn_edge_kernel(X, Y, lr, num_epochs) returns with each mistake, from the student's own
# starting kernel k0 (what it returns when it cannot move: test_learn_edge_kernel.starts).
LEARN_MISTAKES = [
    Mistake("learn_gradient_ascent", "an update that climbs the loss (weight += lr * grad instead of "
            "-=, gradient ascent)", LEARN, lambda k0, X, Y, lr, num_epochs: descend(k0, X, Y, lr, num_epochs,
                                                                                  sign=-1.0)),
    Mistake("learn_untrained", "a kernel returned as it was initialised (the update never reaches the "
            "layer's weight)", LEARN, lambda k0, X, Y, lr, num_epochs: k0),
    Mistake("learn_no_zero_grad", "a gradient never zeroed (each step adds up all the gradients so far; "
            "call zero_grad() before each backward())", LEARN,
            lambda k0, X, Y, lr, num_epochs: descend(k0, X, Y, lr, num_epochs, zero_grad=False)),
    Mistake("learn_mean_loss", "a loss that is the mean of the squared errors instead of their sum", LEARN,
            lambda k0, X, Y, lr, num_epochs: descend(k0, X, Y, lr, num_epochs, mean=True)),
    # a fixed lr or epoch count is recognisable only where it is the default (the usual one)
    Mistake("learn_lr_ignored", "a learning rate fixed at the default 0.03 whatever lr is given", LEARN,
            lambda k0, X, Y, lr, num_epochs: descend(k0, X, Y, DEFAULT_LR, num_epochs)),
    Mistake("learn_epochs_ignored", "a fixed 10 epochs whatever num_epochs is given", LEARN,
            lambda k0, X, Y, lr, num_epochs: descend(k0, X, Y, lr, DEFAULT_EPOCHS)),
]
