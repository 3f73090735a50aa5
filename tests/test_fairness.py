"""Same file, same score; and no check can see what an earlier check, or the check's own
earlier calls, left behind (issue 10, "Proven, not assumed").

- one notebook graded five times with fresh seeds gets one score; twice with one seed, the
  same result test for test;
- planted submissions whose Conv2D.forward is wrong and whose corr2d echoes what the forward
  returned (kept in a module global, a class attribute, a file under /tmp, os.environ), so
  that "the forward equals your own corr2d plus the bias" would hold if the two calls shared
  state: each earns no more than the honest submission with the same wrong forward;
- a correct notebook whose functions mutate global state still gets full marks.

Slow-ish: about 14 gradings of a1 (about 1 s each with light demos, 5-15 s on a loaded 2-vCPU box).
"""

import pytest

from grader.engine.grading import grade
from submissions import corpus, dumps, failed_tests, make_submission

A1 = "a1_cross_correlation"

# The honest mistake: the bias is added twice.
WRONG_FORWARD = '''
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = corr2d(x, self.weight) + 2 * self.bias
        remember(out.detach(), self.bias.detach())
        return out
'''

LOOP_CORR2D = '''
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
'''

HONEST_CORR2D = '''
def remember(out, bias):
    pass

''' + LOOP_CORR2D


def planted(store, load):
    """A corr2d that, once the forward has run, returns (forward's output - bias) for inputs of
    that output's shape: what a grader sharing state between calls would take as 'your own
    corr2d'. `store` and `load` keep (out, bias) somewhere."""
    return f'''
import os
import pickle


def remember(out, bias):
{store}

{LOOP_CORR2D.replace("def corr2d(", "def honest_corr2d(")}

def corr2d(X, K):
    Y = honest_corr2d(X, K)
    remembered = None
{load}
    if remembered is not None:
        out, bias = remembered
        if tuple(out.shape) == tuple(Y.shape):
            return (out - bias).to(dtype=Y.dtype, device=Y.device)
    return Y
'''


PLANTS = {
    "module global": planted("    global MEMORY\n    MEMORY = (out.cpu(), bias.cpu())",
                             "    remembered = globals().get('MEMORY')"),
    "class attribute": planted("    torch.Tensor.memory = (out.cpu(), bias.cpu())",
                               "    remembered = getattr(torch.Tensor, 'memory', None)"),
    "file under /tmp": planted(
        "    with open('/tmp/memory.pkl', 'wb') as f:\n        pickle.dump((out.cpu(), bias.cpu()), f)",
        "    if os.path.exists('/tmp/memory.pkl'):\n"
        "        with open('/tmp/memory.pkl', 'rb') as f:\n            remembered = pickle.load(f)"),
    "os.environ": planted(
        "    os.environ['MEMORY'] = repr((out.cpu().tolist(), bias.cpu().tolist()))",
        "    if 'MEMORY' in os.environ:\n"
        "        out, bias = eval(os.environ['MEMORY'])\n"
        "        remembered = (torch.tensor(out), torch.tensor(bias))"),
}


def a1_submission(corr2d_cell, conv2d_cell):
    return make_submission(A1, {"corr2d": corr2d_cell, "Conv2D": conv2d_cell})


def scores(result):
    return {t["id"]: t["score"] for t in result["tests"]}


def test_fresh_seeds_give_one_score():
    """Five fresh seeds, one score: on a correct notebook whose learn_edge_kernel starts from
    torch.rand (it once failed 'uses its lr argument' about half the time)."""
    entry = next(e for e in corpus(A1) if e.name == "correct_learn_rand_start")
    submission = entry.submission()
    results = [grade(submission, A1) for _ in range(5)]
    assert len({r["seed"] for r in results}) == 5
    assert {r["score"] for r in results} == {results[0]["max_score"]}, [dumps(r) for r in results]


def test_one_seed_gives_the_same_result_test_for_test():
    """A submission with several mistakes (so failure messages, with hidden inputs in them, are
    compared too), graded twice with one seed."""
    entry = next(e for e in corpus(A1) if e.name == "corr2d_off_by_one")
    submission = entry.submission()
    first, second = (grade(submission, A1, seed=424242) for _ in range(2))
    assert first["seed"] == second["seed"] == 424242
    assert first["tests"] == second["tests"]
    assert (first["score"], first["notes"], first["stdout"]) == (second["score"], second["notes"], second["stdout"])
    assert failed_tests(first), "the notebook should fail some checks, so that messages are compared"


@pytest.fixture(scope="module")
def honest():
    result = grade(a1_submission(HONEST_CORR2D, WRONG_FORWARD), A1, seed=7)
    assert "test_conv2d_forward" in failed_tests(result), dumps(result)
    return result


@pytest.mark.parametrize("where", sorted(PLANTS))
def test_state_planted_by_one_call_cannot_reach_another(honest, where):
    result = grade(a1_submission(PLANTS[where], WRONG_FORWARD), A1, seed=7)
    assert result["score"] <= honest["score"], dumps(result)
    gained = {k for k, v in scores(result).items() if v > scores(honest)[k]}
    assert not gained, f"the plant ({where}) earned {sorted(gained)}: {dumps(result)}"


MUTATING = {
    "corr2d": '''
CALLS = []


def corr2d(X, K):
    CALLS.append(tuple(X.shape))          # a global that grows with every call
    torch.rand(len(CALLS) % 3)            # and draws from the global generator
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
''',
    "Conv2D": '''
class Conv2D(nn.Module):
    made = 0                               # a class attribute counting the layers made

    def __init__(self, kernel_size):
        super().__init__()
        Conv2D.made += 1
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
''',
}


def test_correct_notebook_that_mutates_global_state_gets_full_marks():
    result = grade(make_submission(A1, MUTATING), A1, seed=11)
    assert result["score"] == result["max_score"], dumps(result)


def counted_corr2d(load, store):
    """A correct corr2d that gives up (raises) after its 100th call: no check calls it that
    often, so it scores full marks exactly when each check starts from a fresh count."""
    return f'''
import os


def corr2d(X, K):
{load}
    calls += 1
    if calls > 100:
        raise RuntimeError("called more than 100 times")
{store}
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
'''


def test_calls_counted_in_a_global_start_over_in_every_check():
    cell = counted_corr2d("    global CALLS\n    calls = globals().get('CALLS', 0)", "    CALLS = calls")
    result = grade(make_submission(A1, {"corr2d": cell}), A1, seed=3)
    assert result["score"] == result["max_score"], dumps(result)


def test_calls_counted_in_a_file_start_over_in_every_check():
    """Files under /tmp do not outlive a check either (or cannot be written at all, where the
    jail freezes the file system during checks). (Within one check, a fresh() copy does
    see files the check's own calls wrote: test_conv2d_forward asks the student's corr2d
    before running the forward, which the /tmp plant above proves.)"""
    cell = counted_corr2d(
        "    calls = int(open('/tmp/calls').read()) if os.path.exists('/tmp/calls') else 0",
        "    try:\n        with open('/tmp/calls', 'w') as f:\n            f.write(str(calls))\n"
        "    except OSError:  # a read-only /tmp (the jail freezes it during checks)\n        pass")
    result = grade(make_submission(A1, {"corr2d": cell}), A1, seed=3)
    assert result["score"] == result["max_score"], dumps(result)
