"""corr2d(X, K): 2-D cross-correlation, no padding, stride 1. References are F.conv2d."""

import torch

from grader.engine.checks import (call_twice_on_the_same_tensors, check, close, describe, expect_computes_itself,
                                  expect_gradients, expect_keeps_dtype_device, expect_tensor, expect_values, fail,
                                  inputs, rng, shape_text, worked_example)

from .._corr2d_support import (FORBIDDEN, FORBIDDEN_REASON, half_turn_symmetric, interior_close, ref_conv_flipped,
                               ref_corr2d)
from .mistakes import CORR2D_MISTAKES

# (input shape, kernel shape, dtype): non-square inputs and kernels, 1x1 kernels, kernels as
# large as the input, row and column kernels; at most 12 x 12 so Python loops stay fast.
RANDOM_CASES = [
    ((5, 7), (2, 3), torch.float32),
    ((6, 6), (3, 3), torch.float64),
    ((8, 5), (1, 1), torch.float32),
    ((4, 6), (4, 6), torch.float64),
    ((9, 4), (2, 1), torch.float32),
    ((3, 10), (3, 2), torch.float64),
    ((12, 11), (5, 4), torch.float32),
]

SHAPE_CASES = [((5, 7), (2, 3)), ((4, 4), (4, 4)), ((3, 6), (1, 1)), ((6, 3), (6, 1)),
               ((2, 9), (1, 4)), ((7, 5), (3, 5)), ((10, 8), (4, 2))]


def worked_examples(device):
    X = torch.arange(9.0, device=device).reshape(3, 3)
    K = torch.arange(4.0, device=device).reshape(2, 2)
    edge = torch.ones((6, 8), device=device)
    edge[:, 2:6] = 0
    return [(X, K), (edge, torch.tensor([[1.0, -1.0]], device=device)),
            (edge.t().contiguous(), torch.tensor([[1.0], [-1.0]], device=device))]


@check("corr2d", points=2, name="corr2d gives the course's worked examples")
def test_corr2d_worked_example(student, devices):
    for device in devices:
        for X, K in worked_examples(device):
            expect_values(student.corr2d(X, K), ref_corr2d(X, K), "corr2d", worked_example(X=X, K=K),
                          mistakes=CORR2D_MISTAKES)


@check("corr2d", points=2, name="corr2d returns an output of shape (H - h + 1, W - w + 1)")
def test_corr2d_output_shape(student, seed, devices):
    gen = rng(seed, "test_corr2d_output_shape")
    for device in devices:
        for x_shape, k_shape in SHAPE_CASES:
            X = torch.randn(x_shape, generator=gen).to(device)
            K = torch.randn(k_shape, generator=gen).to(device)
            out = student.corr2d(X, K)
            expected = ref_corr2d(X, K).shape
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(expected):
                got = shape_text(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                fail(f"corr2d returned shape {got} for X of shape {shape_text(x_shape)} and K of "
                     f"shape {shape_text(k_shape)}; expected {shape_text(expected)}, that is "
                     "(H - h + 1, W - w + 1): a window fits at H - h + 1 row positions")


@check("corr2d", points=1, name="corr2d fills every output position, the last row and column included")
def test_corr2d_fills_every_position(student, seed, devices):
    # Positive inputs and kernels that are symmetric under a half turn, so a flipped kernel
    # or an output of the wrong size does not matter here: only skipped positions do.
    gen = rng(seed, "test_corr2d_fills_every_position")
    kernels = [torch.ones(2, 2), torch.tensor([[1.0, 2.0, 1.0]]), torch.tensor([[1.0], [3.0], [1.0]]),
               torch.tensor([[2.0, 1.0], [1.0, 2.0]])]
    for device in devices:
        for x_shape, K in zip([(4, 5), (3, 6), (6, 3), (5, 5)], kernels):
            X = (torch.rand(x_shape, generator=gen) + 0.5).to(device)
            K = K.to(device)
            out = student.corr2d(X, K)
            expected = ref_corr2d(X, K)
            if not isinstance(out, torch.Tensor) or out.dim() != 2:
                fail(f"corr2d should return a 2-D tensor, got {describe(out)}")
            rows = min(out.shape[0], expected.shape[0])
            cols = min(out.shape[1], expected.shape[1])
            got, want = out[:rows, :cols].detach().cpu().double(), expected[:rows, :cols].cpu().double()
            wrong = ~torch.isclose(got, want, rtol=1e-5, atol=1e-5)
            if bool(wrong.any()):
                i, j = (int(v) for v in wrong.nonzero()[0])
                where = ("the last row" if i == expected.shape[0] - 1 else
                         "the last column" if j == expected.shape[1] - 1 else f"position ({i}, {j})")
                fail(f"corr2d left {where} of the output wrong for X of shape {shape_text(x_shape)} and "
                     f"K = {describe(K, values_only=True)}: at ({i}, {j}) it gave {got[i, j].item():.6g}, "
                     f"expected {want[i, j].item():.6g}. Loop over all H - h + 1 rows and W - w + 1 columns "
                     "(range(H - h + 1), not range(H - h))")


@check("corr2d", points=2, name="corr2d matches torch on random inputs (non-square, 1x1 and full-size kernels, float32 and float64)")
def test_corr2d_random_values(student, seed, devices):
    gen = rng(seed, "test_corr2d_random_values")
    for device in devices:
        for x_shape, k_shape, dtype in RANDOM_CASES:
            X = torch.randn(x_shape, generator=gen, dtype=dtype).to(device)
            K = torch.randn(k_shape, generator=gen, dtype=dtype).to(device)
            expect_values(student.corr2d(X, K), ref_corr2d(X, K), "corr2d", inputs(X=X, K=K),
                          mistakes=CORR2D_MISTAKES)


@check("corr2d", points=1, name="corr2d is cross-correlation: the kernel is not flipped")
def test_corr2d_not_flipped(student, devices):
    for device in devices:
        for X, K in [(torch.arange(12.0).reshape(3, 4), torch.tensor([[1.0, 2.0], [3.0, 4.0]])),
                     (torch.arange(15.0).reshape(3, 5), torch.tensor([[1.0, 0.0, -2.0]]))]:
            X, K = X.to(device), K.to(device)
            # only an answer can be "not flipped": a tensor, whatever its shape and values (those
            # are the other checks' business); None or a stub's exception earns nothing here
            out = expect_tensor(student.corr2d(X, K), "corr2d")
            if close(out, ref_conv_flipped(X, K)) and not close(out, ref_corr2d(X, K)):
                got, want = describe(out, values_only=True), describe(ref_corr2d(X, K), values_only=True)
                fail(f"corr2d computed a convolution with the kernel flipped for X of shape (3, "
                     f"{X.shape[1]}) and K = {describe(K, values_only=True)}: it returned {got}, expected "
                     f"{want}. Cross-correlation multiplies X[i + a, j + b] by K[a, b], without turning K around")


OUTPUT_HINT = "create the output with torch.zeros(..., dtype=X.dtype, device=X.device)"


@check("corr2d", points=1, name="corr2d keeps the input's dtype (float64 in, float64 out)")
def test_corr2d_keeps_dtype(student, seed, devices):
    gen = rng(seed, "test_corr2d_keeps_dtype")
    for device in devices:
        for dtype in (torch.float64, torch.float32):
            X = torch.randn(4, 5, generator=gen, dtype=dtype).to(device)
            K = torch.randn(2, 2, generator=gen, dtype=dtype).to(device)
            expect_keeps_dtype_device(student.corr2d(X, K), X, "corr2d", "X of shape (4, 5) and K of shape (2, 2)",
                                      OUTPUT_HINT, device=False)


@check("corr2d", points=1, name="corr2d returns its output on the input's device")
def test_corr2d_keeps_device(student, seed, devices):
    gen = rng(seed, "test_corr2d_keeps_device")
    for device in devices:
        X = torch.randn(4, 5, generator=gen).to(device)
        K = torch.randn(2, 3, generator=gen).to(device)
        expect_keeps_dtype_device(student.corr2d(X, K), X, "corr2d", "X of shape (4, 5) and K of shape (2, 3)",
                                  OUTPUT_HINT, dtype=False)


@check("corr2d", points=1, name="corr2d does not modify X or K")
def test_corr2d_input_unchanged(student, seed, devices):
    # Judged by behaviour: two calls on the same X and K in the sandbox must both give torch's
    # answer; what an answer writes into its inputs shows in the second. The kernel is
    # symmetric under a half turn and the last row and column are left out, so a flipped
    # kernel or an output-size mistake (corr2d's other checks) does not cost this one.
    gen = rng(seed, "test_corr2d_input_unchanged")
    for device in devices:
        X = torch.randn(6, 7, generator=gen).to(device)
        K = half_turn_symmetric(torch.randn(3, 3, generator=gen)).to(device)
        expected = ref_corr2d(X, K)
        first, second = call_twice_on_the_same_tensors(student, "corr2d", (X, K))
        if not interior_close(first, expected):
            fail(f"corr2d(X, K) returned {describe(first)} for X of shape (6, 7) and a 3 x 3 K; expected "
                 f"torch's {shape_text(expected.shape)} result, so whether it leaves X and K unchanged "
                 "could not be judged (the value checks say what is wrong)")
        if not interior_close(second, expected):
            fail("corr2d changes its arguments in place: called a second time on the same X (shape "
                 "(6, 7)) and K (3 x 3), it returned different values. It must leave its inputs as they "
                 "were: create a new output tensor with torch.zeros instead of writing into X or into a "
                 "slice (a view) of it")


@check("corr2d", points=2, name="corr2d lets gradients flow back to X and K")
def test_corr2d_gradients(student, seed, devices):
    gen = rng(seed, "test_corr2d_gradients")
    for device in devices:
        # sizes where every output row and column exists twice over, so a wrong output size
        # (the shape checks' business) still leaves a graph to differentiate
        for x_shape, k_shape in [((4, 5), (2, 3)), ((5, 4), (3, 2))]:
            X = torch.randn(x_shape, generator=gen, dtype=torch.float64).to(device)
            K = torch.randn(k_shape, generator=gen, dtype=torch.float64).to(device)
            expect_gradients(student, "corr2d", [X, K], ref_corr2d, "corr2d", inputs(X=X, K=K), gen)


@check("corr2d", points=1, name="corr2d computes the windows itself (no F.conv2d, nn.Conv2d, unfold)")
def test_corr2d_no_builtin_conv(student, devices):
    X, K = worked_examples("cpu")[0]
    expect_computes_itself(student, "corr2d", (X, K), FORBIDDEN, FORBIDDEN_REASON)
