"""grader.engine.checks' value helpers: what each judges, and how a tensor reads in a message."""

import pytest
import torch

from grader.engine.checks import (CheckFailed, describe, expect_ints_like_pairs, expect_keeps_dtype_device,
                                  expect_values, inputs)
from grader.engine.student import describe_call

# a small hidden input: float32 values that print with many digits unrounded
K = torch.tensor([[1.4264883995056152, -0.3333333432674408]])
X = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])


def failure(call, *args, **kwargs):
    with pytest.raises(CheckFailed) as raised:
        call(*args, **kwargs)
    return str(raised.value)


def test_a_tensor_shows_four_significant_digits_in_every_message():
    texts = [describe(K), describe(K, values_only=True), str(inputs(K=K)),
             failure(expect_values, K * 2, K, "corr2d", inputs(X=X, K=K)),
             describe_call("`corr2d`", (X, K))]  # the call a StudentError names
    for text in texts:  # the single entry where values differ is given to 6 digits, apart
        assert "[[1.426, -0.3333]]" in text, text
        assert "1.42648" not in text and "0.33333" not in text, text
    assert describe(K, values_only=True) == "[[1.426, -0.3333]]"
    assert describe(torch.tensor([[2.0, -1.0]]), values_only=True) == "[[2, -1]]"


def test_a_large_tensor_shows_its_shape_not_its_values():
    big = torch.rand(5, 7)
    assert describe(big, values_only=True) == "of shape (5, 7)"
    assert describe(big) == "a float32 tensor of shape (5, 7) on cpu"


def test_values_judge_shape_and_values_whatever_the_dtype():
    expect_values(K.double(), K, "corr2d", inputs(K=K))
    assert "wrong values" in failure(expect_values, K + 1, K, "corr2d", inputs(K=K))
    assert "returned shape (2, 1)" in failure(expect_values, K.t(), K, "corr2d", inputs(K=K))
    assert "should return a torch.Tensor" in failure(expect_values, K.tolist(), K, "corr2d", inputs(K=K))


def test_keeps_dtype_device_names_both_dtypes_and_the_hint():
    expect_keeps_dtype_device(K.double() + 100, K.double(), "corr2d", "X")  # values are not its business
    message = failure(expect_keeps_dtype_device, K, K.double(), "corr2d", "X", hint="use dtype=X.dtype")
    assert "float32" in message and "float64" in message and "use dtype=X.dtype" in message
    assert "should return a torch.Tensor" in failure(expect_keeps_dtype_device, None, K, "corr2d", "X")


def test_ints_are_judged_against_the_students_own_pair_answer():
    expected = X
    wrong_but_consistent = X + 1
    expect_ints_like_pairs(wrong_but_consistent, wrong_but_consistent.clone(), expected, "f", "X")
    expect_ints_like_pairs(expected, X + 5, expected, "f", "X")  # differs from the pair: torch decides
    assert "wrong values" in failure(expect_ints_like_pairs, X + 1, X + 2, expected, "f", "X")
    # a pair answer that is not finite vouches for nothing
    nan = torch.full_like(X, float("nan"))
    assert "wrong values" in failure(expect_ints_like_pairs, nan, nan.clone(), expected, "f", "X")


def test_keeps_dtype_device_judges_only_what_it_is_asked_to():
    expect_keeps_dtype_device(K, K.double(), "corr2d", "X", dtype=False)
    assert "the input's dtype:" in failure(expect_keeps_dtype_device, K, K.double(), "corr2d", "X", "hint",
                                           device=False)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")  # `check` is the grader's own mark
def test_the_scaffold_suite_template_makes_a_suite_from_these_helpers(tmp_path):
    import importlib.util
    from pathlib import Path

    import grader.operations
    template = Path(grader.operations.__file__).with_name("scaffold_suite.py.tmpl").read_text()
    source = template.format(assignment="a2_padding_stride_channels", name="corr2d_dilated")
    todo = "    raise NotImplementedError(\"TODO: torch's answer"
    assert todo in source
    source = "\n".join("    return F.conv2d(X[None, None], K[None, None], **settings)[0, 0]" if line.startswith(todo)
                       else line for line in source.splitlines())
    path = tmp_path / "test_corr2d_dilated.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("test_corr2d_dilated", path)
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    marks = {name: [m for m in getattr(suite, name).pytestmark if m.name == "check"][0].kwargs
             for name in dir(suite) if name.startswith("test_")}
    assert len(marks) == 7 and all(m["exercise"] == "corr2d_dilated" and m["points"] == 1 for m in marks.values())
    assert suite.MISTAKES == []
    X, K = torch.randn(7, 6), torch.randn(3, 2)
    torch.testing.assert_close(suite.reference(X, K, dilation=(2, 1)),
                               torch.nn.functional.conv2d(X[None, None], K[None, None], dilation=(2, 1))[0, 0])
