"""A failed comparison carries the expected and returned maps when the student saw the inputs,
and the known mistake its values fit (grader.engine.diagnoses), from values alone."""

import inspect
import json
import os
import subprocess
import sys

import pytest
import torch

from autograde_tests.a1_cross_correlation.mistakes import LEARN_MISTAKES, descend
from autograde_tests.a1_cross_correlation.test_learn_edge_kernel import edge_example, near
from autograde_tests.a3_output_shapes import _common as a3_common
from autograde_tests.a3_output_shapes import mistakes as a3_mistakes
from autograde_tests.a3_output_shapes import test_layers as a3_layers
from autograde_tests.a3_output_shapes import test_sizes as a3_sizes
from grader.engine.checks import CheckFailed, expect_close, inputs, same_value, worked_example
from grader.engine.diagnoses import Mistake, diagnose, diagnose_calls
from grader.engine.grading import grade
from grader.engine.student import StudentError
from submissions import catalogue, corpus, failed_tests

FLIPPED = Mistake("flipped", "a flipped matrix", "1. Flipping", lambda X: torch.flip(X, (0, 1)))
TRANSPOSED = Mistake("transposed", "a transposed matrix", "2. Transposing", lambda X: X.T)
NEGATED = Mistake("negated", "a negated matrix", "3. Signs", lambda X: -X)


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


# --- diagnoses ------------------------------------------------------------------------------

def test_values_that_fit_one_mistake_name_it_and_its_section():
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    error = failure(torch.flip(X, (0, 1)), X, inputs(X=X), mistakes=[TRANSPOSED, FLIPPED, NEGATED])
    assert error.diagnosis == FLIPPED.sentence()
    assert "a flipped matrix" in error.diagnosis and "“1. Flipping”" in error.diagnosis


def test_hidden_inputs_are_diagnosed_without_showing_values():
    X = torch.randn(5, 7, generator=torch.Generator().manual_seed(1))
    error = failure(-X, X, inputs(X=X), mistakes=[TRANSPOSED, FLIPPED, NEGATED])
    assert error.diagnosis == NEGATED.sentence()
    assert error.expected is None and error.got is None


def test_values_that_fit_no_mistake_get_no_diagnosis():
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert failure(X + 1, X, inputs(X=X), mistakes=[TRANSPOSED, FLIPPED, NEGATED]).diagnosis is None


def test_two_mistakes_at_once_get_neither():
    """Flipped and negated at once fits neither mistake alone: no diagnosis, never a wrong one."""
    X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]])
    error = failure(-torch.flip(X, (0, 1)), X, inputs(X=X), mistakes=[TRANSPOSED, FLIPPED, NEGATED])
    assert error.diagnosis is None


def test_two_mistakes_with_the_same_values_are_both_named():
    """On a matrix symmetric about its anti-diagonal, flipping and transposing agree: both named."""
    X = torch.tensor([[1.0, 2.0], [5.0, 1.0]])
    assert torch.equal(torch.flip(X, (0, 1)), X.T)
    error = failure(X.T, X, inputs(X=X), mistakes=[TRANSPOSED, FLIPPED])
    assert "a transposed matrix or a flipped matrix" in error.diagnosis
    assert "“2. Transposing” and “1. Flipping”" in error.diagnosis


def test_a_mistake_indistinguishable_from_the_answer_on_this_input_is_not_named():
    """The mistake's values lie within the tolerance of the correct ones, the student's do not
    (tolerances do not chain): the student's values fit it, but it cannot be told apart here."""
    expected = torch.zeros(2, 2, dtype=torch.float64)
    almost = Mistake("almost", "a near miss", "4. Rounding", lambda X: X + 0.9e-7)
    error = failure(expected + 1.8e-7, expected, inputs(X=expected), mistakes=[almost])
    assert error.diagnosis is None


def test_a_mistake_that_cannot_be_computed_for_the_inputs_is_skipped():
    X = torch.ones(2, 3)
    shorter = Mistake("shorter", "rows dropped", "5. Shapes", lambda X: X[5:])  # empty
    broken = Mistake("broken", "an error", "6. Errors", lambda X: X @ X)  # raises
    error = failure(X[:1], X, inputs(X=X), mistakes=[shorter, broken])
    assert error.diagnosis is None


def test_no_diagnosis_without_a_failure():
    X = torch.ones(2, 2)
    expect_close(X.clone(), X, "f", inputs(X=X), mistakes=[TRANSPOSED, FLIPPED, NEGATED])


def test_diagnoses_can_be_turned_off_for_measuring():
    code = "from grader.engine import diagnoses; print(diagnoses.ENABLED)"
    env = {**os.environ, "CONVGRADE_DIAGNOSES": "off"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_result_carries_them_for_the_shown_call_only():
    """corr2d one row and column short: the worked example's failure (inputs in the notebook)
    carries both maps; the random-values check's (hidden inputs) carries none."""
    entry = next(e for e in corpus() if e.name == "corr2d_off_by_one")
    result = grade(entry.submission(), entry.assignment, seed=5)
    tests = {t["id"]: t for t in result["tests"]}
    assert "test_corr2d_worked_example" in failed_tests(result)
    worked = tests["test_corr2d_worked_example"]
    assert worked["expected"] == [[19.0, 25.0], [37.0, 43.0]] and worked["got"] == [[19.0]]
    assert "one row and one column short" in worked["diagnosis"]
    assert worked["score"] == 0.0  # a diagnosis is feedback: the check is lost all the same
    assert "expected" not in tests["test_corr2d_random_values"]
    assert "got" not in tests["test_corr2d_random_values"]
    json.dumps(result, allow_nan=False)


# --- a5: LeNet and CifarNet ----------------------------------------------------------------

def _a5_forward_call(net, seed, dtype):
    """What the forward check of `net` compares: torch's output on one hidden image with the
    seeded parameters, and the inputs the mistakes recompute from."""
    from autograde_tests.a5_lenet import _reference as ref
    from grader.engine.checks import Inputs
    state, x = ref.params(net, seed, dtype), ref.image_batch(net, 1, seed, dtype)
    shown = inputs(x=x)
    return ref.reference(net, state, x), Inputs(shown, {"x": x, "params": state}, shown.shown)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", [0, 5, 13])
def test_each_a5_mistake_is_diagnosed_as_itself_alone(seed, dtype):
    """Every mistake of the catalogue, on the forward check's hidden inputs, is named and no
    other is, though some names lie inside others ("after conv1" in "after conv1 and conv2");
    torch's own output is named by none."""
    from autograde_tests.a5_lenet import _reference as ref
    from autograde_tests.a5_lenet._netchecks import FORWARD_MISTAKES
    from submissions import named_mistakes
    for net in (ref.LENET, ref.CIFARNET):
        expected, on = _a5_forward_call(net, seed, dtype)
        catalogue = FORWARD_MISTAKES[net.name]
        expect_close(expected.clone(), expected, "forward", on, mistakes=catalogue)
        for mistake in catalogue:
            got = mistake.returns(**on.values)
            error = failure(got, expected, on, mistakes=catalogue)
            assert error.diagnosis is not None, mistake.id
            assert named_mistakes(error.diagnosis, "a5_lenet") == {mistake.id}, error.diagnosis


def test_a5_mistakes_quote_the_notebooks_headings():
    import nbformat

    from autograde_tests.a5_lenet import mistakes
    from grader.course import assignments
    source = nbformat.read(assignments.source_notebook("a5_lenet"), as_version=4)
    headings = {line.lstrip("#").strip() for cell in source.cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("#")}
    sections = {m.section for m in [*mistakes.LENET_FORWARD, *mistakes.CIFARNET_FORWARD]}
    assert sections <= headings, sections - headings


def test_a5_forward_and_aimed_checks_name_the_mistake_and_score_as_before():
    """ReLU where the notes say sigmoid: the forward check and the check aimed at the
    activations both name it and its section; both are lost all the same."""
    entry = next(e for e in corpus() if e.name == "lenet_relu")
    result = grade(entry.submission(), entry.assignment, seed=5)
    tests = {t["id"]: t for t in result["tests"]}
    assert failed_tests(result) == {"test_lenet_forward", "test_lenet_sigmoid"}
    for check in ("test_lenet_forward", "test_lenet_sigmoid"):
        assert "a LeNet with ReLU instead of sigmoid after conv1, conv2, fc1 and fc2 gives" in tests[check]["diagnosis"]
        assert "“1. LeNet”" in tests[check]["diagnosis"]
        assert tests[check]["score"] == 0.0
    assert result["score"] == result["max_score"] - 4


# --- checks of several calls, values of any kind (a3's sizes) ------------------------------

MINUS_ONE = Mistake("minus_one", "a size one short", "1. Sizes", lambda n: n - 1 if n > 1 else None)
DOUBLED = Mistake("doubled", "a size doubled", "1. Sizes", lambda n: 2 * n)


def test_a_mistake_that_fits_every_call_is_named():
    calls = [(n - 1, n, {"n": n}) for n in (4, 7, 9)]
    assert diagnose_calls(calls, [DOUBLED, MINUS_ONE], same_value) == MINUS_ONE.sentence()


def test_one_call_the_mistake_does_not_explain_names_nothing():
    calls = [(3, 4, {"n": 4}), (6, 7, {"n": 7}), (9, 9, {"n": 9})]
    assert diagnose_calls(calls, [DOUBLED, MINUS_ONE], same_value) is None


def test_calls_a_mistake_says_nothing_about_are_left_out_but_one_must_tell_it_apart():
    """n = 1: MINUS_ONE has no size there (the student may raise); the other calls decide."""
    calls = [(StudentError("raised ValueError"), 1, {"n": 1}), (4, 5, {"n": 5})]
    assert diagnose_calls(calls, [MINUS_ONE], same_value) == MINUS_ONE.sentence()
    assert diagnose_calls(calls[:1], [MINUS_ONE], same_value) is None


def test_an_error_where_the_mistake_gives_a_value_never_fits():
    calls = [(StudentError("raised ValueError"), 5, {"n": 5}), (12, 6, {"n": 6})]
    assert diagnose_calls(calls, [DOUBLED], same_value) is None


# --- the catalogues of a3 and of learn_edge_kernel on the checks' own inputs -----------------

A3_CHECKS = {exercise: [f for module in (a3_sizes, a3_layers) for name, f in vars(module).items()
                        if name.startswith("test_") and f.pytestmark[0].kwargs["exercise"] == exercise]
             for exercise in a3_mistakes.BY_EXERCISE}


class AnswerWith:
    """A notebook whose `exercise` has `mistake` (a ValueError where its formula gives no size)
    and whose conv_output_size is torch's: an a3 check's `student`, without a sandbox."""

    def __init__(self, exercise, mistake):
        self.exercise, self.mistake = exercise, mistake

    def fresh(self):
        return self

    def __getattr__(self, name):
        if name == self.exercise:
            return self._mistaken
        if name == "conv_output_size":
            return lambda n, k, stride=1, padding=0, dilation=1: self._value(
                a3_common.conv1d_length(n, k, stride, padding, dilation))
        raise AttributeError(name)

    def _mistaken(self, *args, **kwargs):
        values = dict(inspect.signature(self.mistake.returns).bind(*args, **kwargs).arguments)
        return self._value(self.mistake.returns(**values))

    @staticmethod
    def _value(value):
        if value is None or isinstance(value, a3_common.Raises):
            raise StudentError("raised ValueError", "ValueError", classes=("ValueError",))
        return value


def failures(checks, student, seed):
    found = []
    for check_function in checks:
        arguments = {"student": student, "seed": seed}
        wanted = inspect.signature(check_function).parameters
        try:
            check_function(**{name: arguments[name] for name in wanted})
        except CheckFailed as error:
            found.append(error)
    return found


@pytest.mark.parametrize("exercise, mistake", [(exercise, mistake) for exercise, mistakes in
                                               a3_mistakes.BY_EXERCISE.items() for mistake in mistakes],
                         ids=lambda value: getattr(value, "id", value))
def test_an_a3_answer_with_the_mistake_fails_and_is_named(exercise, mistake):
    """Each catalogued mistake differs from torch on the checks' own inputs (a check fails),
    and the answer that makes it is named, under several seeds: never another mistake alone."""
    for seed in (1, 2, 3):
        lost = failures(A3_CHECKS[exercise], AnswerWith(exercise, mistake), seed)
        assert lost, f"{mistake.id} passes every check of {exercise}"
        named = [error.diagnosis for error in lost if error.diagnosis]
        assert named, f"{mistake.id}: no failure names it ({[str(e) for e in lost]})"
        assert all(mistake.name in sentence for sentence in named), named


def test_a3_mistake_names_do_not_contain_one_another():
    names = {m.name for m in catalogue("a3_output_shapes").values()}
    assert not [(a, b) for a in names for b in names if a != b and a in b]


def test_learn_edge_kernel_mistakes_differ_from_descent_and_are_named():
    """Each mistake of the descent, from a start away from the answer, differs from gradient
    descent by more than the check's tolerance, and its values are named as it."""
    X, Y = edge_example("cpu", torch.float64)
    k0 = torch.tensor([[-0.3, 0.4]], dtype=torch.float64)
    for lr, epochs in ((3e-2, 10), (0.01, 2), (0.01, 3)):  # the checks' settings on the edge image
        values = {"k0": k0, "X": X, "Y": Y, "lr": lr, "num_epochs": epochs}
        expected = descend(k0, X, Y, lr, epochs)
        for mistake in LEARN_MISTAKES:
            wrong = mistake.returns(**values)
            if (mistake.id, lr, epochs) in {("learn_lr_ignored", 3e-2, 10), ("learn_epochs_ignored", 3e-2, 10)}:
                assert near(wrong, expected)  # the default itself: nothing to tell apart
                continue
            assert not near(wrong, expected), (mistake.id, lr, epochs)
            named = diagnose(wrong, expected, values, LEARN_MISTAKES, near)
            assert named is not None and mistake.name in named, (mistake.id, lr, epochs, named)
