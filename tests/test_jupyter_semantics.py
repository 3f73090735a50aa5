"""Notebooks written the way students write them in Jupyter get full marks: the program runs
with IPython's own machinery in the real sandbox (grader.engine.grading.grade), so what runs clean
in a kernel runs clean here. Several habits share a notebook where they cannot interfere
(each grading costs seconds)."""

import copy
import json
import uuid

import nbformat
import pytest
import torch

from grader import wire
from grader.course import notebook
from grader.doors.nbgrader_bridge import answer_sources
from grader.engine.grading import grade
from grader.engine.sandbox import Limits, Sandbox
from submissions import dumps, make_submission

A1, A3 = "a1_cross_correlation", "a3_output_shapes"

PLOT_THEN_HELPER = """\
import matplotlib.pyplot as plt
%matplotlib inline
fig, ax = plt.subplots()
ax.plot([0, 1, 2], [2, 0, 1])
ax.set_title("a first look")
plt.show()

def window_sum(X, K, i, j):
    h, w = K.shape
    return (X[i:i + h, j:j + w] * K).sum()
"""
TRACEBACK_HELPER = """\
import traceback

def tried(function):
    try:
        return function()
    except Exception:
        traceback.print_exc()
        return None

tried(lambda: 1 / 0)
torch.autograd.set_detect_anomaly(True)
display(torch.ones(2))
!ls
"""
WRITEFILE = """\
%%writefile helpers.py
def out_size(n, k):
    return n - k + 1
"""
# black puts `% (...)` at the start of a continuation line inside the call
CORR2D_FORMATTED = """\
import helpers


def corr2d(X, K):
    if X.dim() != 2 or K.dim() != 2:
        raise ValueError(
            "corr2d takes 2-D tensors, got %d and %d dimensions"
            % (X.dim(), K.dim())
        )
    h, w = K.shape
    Y = torch.zeros((helpers.out_size(X.shape[0], h), helpers.out_size(X.shape[1], w)),
                    dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = window_sum(X, K, i, j)
    return Y
"""
TIMING_AND_MAIN = """\
X, K = torch.rand(6, 6), torch.rand(2, 2)
%time Y = corr2d(X, K)
%timeit -n 2 -r 2 corr2d(X, K)
import io, pickle, sys
this = sys.modules[__name__]
assert this.corr2d is corr2d

class Box:
    def __init__(self, value):
        self.value = value

assert pickle.loads(pickle.dumps(Box(3))).value == 3
buffer = io.BytesIO()
torch.save(Conv2D((1, 2)), buffer)
buffer.seek(0)
assert type(torch.load(buffer, weights_only=False)).__name__ == "Conv2D"

from hypothesis import given, settings, strategies as st  # hypothesis assigns __code__


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3))
def test_shape(h, w):
    assert corr2d(torch.ones(4, 4), torch.ones(h, w)).shape == (5 - h, 5 - w)


test_shape()
"""
SCRIPTED_CORR2D = """\
@torch.jit.script
def corr2d(X, K):
    h = K.shape[0]
    w = K.shape[1]
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
"""
WRONG_CORR2D = """\
def corr2d(X, K):
    return torch.zeros((X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1))
"""
LEFT_OVER = """\
import inspect
def shown():
    return 1
assert "return 1" in inspect.getsource(shown)
raise RuntimeError("left over")
"""
NAMEDTUPLE_SHAPE = """\
import collections
ConvShape = collections.namedtuple("ConvShape", "n c h w")


def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    def pair(v):
        return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))
    n, _, h, w = (int(v) for v in input_shape)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel_size), pair(stride), pair(padding), pair(dilation)
    return ConvShape(n, int(out_channels), conv_output_size(h, kh, sh, ph, dh),
                     conv_output_size(w, kw, sw, pw, dw))
"""
NUMPY_PARAMS = """\
import numpy as np


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kh, kw = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    if in_channels % groups or out_channels % groups:
        raise ValueError("channels must be divisible by groups")
    weights = np.int64(out_channels) * (in_channels // groups) * kh * kw
    return weights + (np.int64(out_channels) if bias else np.int64(0))
"""


def _full_marks(result):
    assert result["gradable"], dumps(result)
    failed = [(t["name"], t["output"]) for t in result["tests"] if t["status"] != "passed"]
    assert result["score"] == result["max_score"] > 0, (failed, result["notes"])


def _saved_by_vscode(raw):
    """VS Code re-saves a notebook as nbformat 4.2 and keeps the cell ids."""
    data = json.loads(raw)
    data["nbformat_minor"] = 2
    return json.dumps(data).encode()


def _with_copied_answer(raw, cid, first_source):
    """The answer cell copied below itself, as Jupyter's copy and paste does (same nbgrader
    metadata, new id); the first copy keeps `first_source`, the second is the fixed one."""
    nb = nbformat.reads(raw, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if notebook.grade_id(c) == cid)
    second = copy.deepcopy(nb.cells[index])
    second.id = uuid.uuid4().hex[:8]
    nb.cells[index].source = first_source
    nb.cells.insert(index + 1, second)
    return nbformat.writes(nb).encode(), index + 1, index + 2


def test_kernel_habits_in_one_a1_notebook_get_full_marks():
    """matplotlib before a helper, traceback.print_exc, anomaly detection left on, display,
    `!ls`, %%writefile then import, black's `% (a, b)` line, %time/%timeit, sys.modules[__name__],
    pickle and torch.save of notebook classes, saved by VS Code as nbformat 4.2 with ids."""
    raw = make_submission(A1, {"corr2d": CORR2D_FORMATTED}, added=[
        ("before", "corr2d", PLOT_THEN_HELPER), ("before", "corr2d", TRACEBACK_HELPER),
        ("before", "corr2d", WRITEFILE), ("after", "Conv2D", TIMING_AND_MAIN)])
    nb = nbformat.reads(raw, as_version=4)
    ls_cell = 1 + next(i for i, c in enumerate(nb.cells) if c.source == TRACEBACK_HELPER)
    result = grade(_saved_by_vscode(raw), A1)
    _full_marks(result)
    line = TRACEBACK_HELPER.split("\n").index("!ls") + 1
    assert f"`!ls` in cell {ls_cell}, line {line} did not run: the grading sandbox cannot start programs" \
        in result["notes"], result["notes"]
    assert not [n for n in result["notes"] if "raised" in n], result["notes"]


def test_scripted_answer_and_a_copied_answer_cell_fixed_in_its_second_copy():
    """TorchScript reads the cell's source; the pasted cell's last copy counts; an error in a
    cell of the program still names its cell and line."""
    raw, first, second = _with_copied_answer(
        make_submission(A1, {"corr2d": SCRIPTED_CORR2D}, added=[("after", "learn_edge_kernel", LEFT_OVER)]),
        "corr2d", WRONG_CORR2D)
    nb = nbformat.reads(raw, as_version=4)
    left_over = 1 + next(i for i, c in enumerate(nb.cells) if c.source == LEFT_OVER)
    result = grade(raw, A1)
    _full_marks(result)
    assert (f"the answer cell `corr2d` appears 2 times (cells {first} and {second}); all ran in order, "
            f"as Run All does, and the last one (cell {second}) counts") in result["notes"], result["notes"]
    assert any(n.startswith(f"`cell {left_over}` raised RuntimeError at cell {left_over}, line 5: left over")
               for n in result["notes"]), result["notes"]


def test_a_copied_answer_cell_broken_in_its_second_copy_counts_the_second():
    """The last copy counts even when it is the wrong one: what Run All leaves defined."""
    raw, first, second = _with_copied_answer(make_submission(A1), "corr2d", WRONG_CORR2D)
    nb = nbformat.reads(raw, as_version=4)
    nb.cells[first - 1].source, nb.cells[second - 1].source = nb.cells[second - 1].source, WRONG_CORR2D
    program = notebook.build_program(notebook.read(nbformat.writes(nb).encode()), A1)
    labels = [c["id"] for c in program.cells]
    assert labels.index(f"cell {first} (an earlier copy of `corr2d`)") < labels.index("corr2d")
    assert "torch.zeros((X.shape[0] - K.shape[0] + 1" in program.answers["corr2d"]


def test_namedtuple_and_numpy_integer_returns_are_judged_by_value():
    result = grade(make_submission(A3, {"conv2d_output_shape": NAMEDTUPLE_SHAPE,
                                        "conv2d_num_params": NUMPY_PARAMS}), A3)
    _full_marks(result)


def test_static_checks_read_each_cell_as_python():
    raw = make_submission(A1, {"corr2d": "%time x = 1\n" + CORR2D_FORMATTED},
                          added=[("before", "corr2d", WRITEFILE)])
    program = notebook.build_program(notebook.read(raw), A1)
    for label, python in program.python.items():
        compile(python, label, "exec")  # every cell parses once IPython has transformed it
    assert "% (X.dim(), K.dim())" in program.answers["corr2d"]
    assert program.answers["corr2d"].startswith("get_ipython().run_line_magic('time', 'x = 1')")


def test_a_program_past_its_time_budget_names_the_running_cell():
    raw = make_submission(A1, added=[("after", "corr2d", "import time\nwhile True:\n    time.sleep(0.05)\n")])
    nb = nbformat.reads(raw, as_version=4)
    looping = 1 + next(i for i, c in enumerate(nb.cells) if c.source.startswith("import time\nwhile"))
    result = grade(raw, A1, limits=Limits(program_seconds=4))
    assert result["score"] == 0
    outputs = {t["output"] for t in result["tests"]}
    assert any(f"(`cell {looping}` was running)" in o for o in outputs), outputs


RAND_AT_CALL = [{"id": "draw", "source": "import torch\ndef draw():\n    return torch.rand(3)\n"}]


def _draws(seed, checks=2):
    with Sandbox(RAND_AT_CALL, seed=seed) as sandbox:
        values = []
        for _ in range(checks):
            sandbox.new_check()
            reply = sandbox.request("call", {"target": "draw", "args": []})
            assert reply["ok"], reply
            values.append(reply["value"]["result"])
    return values


def test_check_processes_are_seeded_with_the_submissions_seed():
    first, second = _draws(7)
    assert torch.equal(first, second)                         # every check starts from the seed
    assert torch.equal(first, torch.manual_seed(7) and torch.rand(3))  # ... the submission's seed
    assert torch.equal(_draws(7, checks=1)[0], first)         # the same in another grading
    assert not torch.equal(_draws(8, checks=1)[0], first)     # another seed draws other values


def test_reading_repairs_what_jupyter_repairs():
    raw = make_submission(A1)
    data = json.loads(raw)
    data["nbformat_minor"] = 2
    data["cells"][1]["id"] = data["cells"][0]["id"]        # a duplicate id
    del data["cells"][2]["id"]                             # a missing one
    data["cells"][3]["collapsed"] = True                   # a key the format does not know
    data["metadata"]["kernelspec"] = {"name": "python3"}   # metadata missing a required field
    nb = notebook.read(json.dumps(data).encode())
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == len(ids) and nb.nbformat_minor == 5
    nbformat.validate(nb)
    data["cells"][0]["source"] = 5                          # what cannot be graded is refused
    with pytest.raises(notebook.NotebookError, match="not valid nbformat 4"):
        notebook.read(json.dumps(data).encode())


def test_wire_values_of_kept_tuples_are_plain():
    from grader.untrusted.child import Child
    import collections
    import numpy
    kept = Child()._keep((collections.namedtuple("P", "a b")(1, numpy.int64(2)), [numpy.float32(0.5), numpy.bool_(True)]))
    assert kept == (((1, 2)), [0.5, True]) and type(kept[0]) is tuple and type(kept[0][1]) is int
    assert wire.encode(kept, {}) == {"__tuple__": [{"__tuple__": [1, 2]}, [0.5, True]]}


def test_nbgrader_door_finds_answers_defined_by_assignment():
    cells = ["", "corr2d = lambda X, K: X", "def learn_edge_kernel(X, Y):\n    y = 1\n", "if corr2d == 1:\n    pass"]
    sources = answer_sources({"In": cells})
    assert sources["corr2d"] == "corr2d = lambda X, K: X" and sources["learn_edge_kernel"] == cells[2]
    assert "y" not in sources  # only top-level definitions
