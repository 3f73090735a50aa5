"""A failed comparison carries the expected and returned maps when the student saw the inputs,
and the known mistake its values fit (grader.engine.diagnoses), from values alone."""

import json

import pytest
import torch

from grader.engine.checks import CheckFailed, expect_close, inputs, worked_example
from grader.engine.grading import grade
from submissions import corpus, failed_tests


def failure(actual, expected, on, **options):
    with pytest.raises(CheckFailed) as caught:
        expect_close(actual, expected, "f", on, **options)
    return caught.value


# --- expected and got -------------------------------------------------------------------

def test_small_shown_inputs_carry_expected_and_got():
    X = torch.arange(6.0).reshape(2, 3)
    error = failure(X + 1, X, inputs(X=X))
    assert error.expected == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert error.got == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_hidden_inputs_carry_neither():
    X = torch.randn(5, 7)  # 35 elements: the message gives only its shape
    error = failure(X + 1, X, inputs(X=X, K=torch.ones(1, 1)))
    assert error.expected is None and error.got is None


def test_a_worked_example_is_shown_whatever_its_size():
    X = torch.ones(6, 8)
    error = failure(X * 2, X, worked_example(X=X))
    assert len(error.expected) == 6 and len(error.got[0]) == 8


def test_a_shape_mismatch_carries_both_shapes():
    X = torch.arange(9.0).reshape(3, 3)
    error = failure(X[:2, :2], X, inputs(X=X))
    assert [len(error.expected), len(error.expected[0])] == [3, 3]
    assert [len(error.got), len(error.got[0])] == [2, 2]


def test_leading_axes_of_one_are_dropped_and_others_are_not_pictured():
    X = torch.arange(4.0).reshape(1, 1, 2, 2)
    assert failure(X + 1, X, inputs(X=X)).got == [[1.0, 2.0], [3.0, 4.0]]
    Y = torch.arange(8.0).reshape(2, 2, 2)
    error = failure(Y + 1, Y, inputs(Y=Y))
    assert error.expected is None and error.got is None


def test_nan_and_infinity_survive_json():
    X = torch.zeros(2, 2)
    got = torch.tensor([[float("nan"), float("inf")], [-float("inf"), 1 / 3]])
    error = failure(got, X, inputs(X=X))
    text = json.dumps({"got": error.got}, allow_nan=False)
    assert json.loads(text)["got"] == [["NaN", "Infinity"], ["-Infinity", 0.333333]]
    assert [float(v) for v in error.got[1]] == [-float("inf"), 0.333333]


def test_the_result_carries_them_for_the_shown_call_only():
    """corr2d one row and column short: the worked example's failure (inputs in the notebook)
    carries both maps; the random-values check's (hidden inputs) carries none."""
    entry = next(e for e in corpus() if e.name == "corr2d_off_by_one")
    result = grade(entry.submission(), entry.assignment, seed=5)
    tests = {t["id"]: t for t in result["tests"]}
    assert "test_corr2d_worked_example" in failed_tests(result)
    worked = tests["test_corr2d_worked_example"]
    assert worked["expected"] == [[19.0, 25.0], [37.0, 43.0]] and worked["got"] == [[19.0]]
    assert "expected" not in tests["test_corr2d_random_values"]
    assert "got" not in tests["test_corr2d_random_values"]
    json.dumps(result, allow_nan=False)
