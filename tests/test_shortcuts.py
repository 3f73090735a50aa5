"""Forbidden shortcuts (grader.engine.shortcuts): only the code the exercise reaches is judged, what
the grader cannot resolve fails closed, every message names the cell and line, and the
course's policy decides what a forbidden shortcut costs (issue 20 item 5, issue 21 item 5).

The rule is unit-tested on source snippets (each honest habit passes; each evasion fails);
a few gradings through grader.engine.grading.grade (the real sandbox) prove the policy end to end.
"""

import pytest

from grader.course import deadlines
from grader.engine import shortcuts
from grader.engine.grading import grade
from submissions import dumps, failed_tests, make_submission

SETUP = ("setup", "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n")
NAMES = ["conv2d", "Conv2d", "unfold", "max_pool2d", "MaxPool2d"]

LOOP_CORR2D = '''
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
'''


def reach(*cells, root="corr2d"):
    """What `root` reaches in a program of the setup cell and `cells` (labelled cell 2, 3, ...)."""
    program = [SETUP] + [(f"cell {n}", source) for n, source in enumerate(cells, start=2)]
    return shortcuts.reach(program, root, NAMES)


def findings(*cells, root="corr2d"):
    return reach(*cells, root=root).findings


def forbidden(*cells, root="corr2d"):
    return [f for f in findings(*cells, root=root) if f.forbidden]


# -- honest habits keep the check ------------------------------------------------------------

HONEST = {
    "the reference loop": LOOP_CORR2D,
    "a comparison with F.conv2d below the def, in the answer cell": LOOP_CORR2D + '''
X_t, K_t = torch.randn(5, 6), torch.randn(2, 3)
print(torch.allclose(corr2d(X_t, K_t), F.conv2d(X_t[None, None], K_t[None, None])[0, 0]))
expected = F.conv2d(X_t[None, None], K_t[None, None])[0, 0]
assert torch.allclose(corr2d(X_t, K_t), expected, atol=1e-6)
''',
    "unused names of an import line": "from torch.nn.functional import pad, conv2d\n" + LOOP_CORR2D
                                      + "print(conv2d)\n",
    "magics and shell escapes around the answer": "%matplotlib inline\n!ls\n" + LOOP_CORR2D
                                                  + "%timeit corr2d(torch.ones(4, 4), torch.ones(2, 2))\n",
    "a vectorised answer with a helper and F.pad": '''
def windows_sum(Xp, K, out_h, out_w):
    h, w = K.shape
    return sum(K[a, b] * Xp[a:a + out_h, b:b + out_w] for a in range(h) for b in range(w))

def corr2d(X, K):
    Xp = F.pad(X, (0, 0, 0, 0))
    return windows_sum(Xp, K, X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)
''',
    "a test function handed the answer": LOOP_CORR2D + '''
def compare(fn, X, K):
    return torch.allclose(fn(X, K), F.conv2d(X[None, None], K[None, None])[0, 0])
print(compare(corr2d, torch.randn(4, 4), torch.randn(2, 2)))
''',
    "as_strided and einsum": '''
def corr2d(X, K):
    h, w = K.shape
    H, W = X.shape[0] - h + 1, X.shape[1] - w + 1
    s0, s1 = X.stride()
    windows = X.as_strided((H, W, h, w), (s0, s1, s0, s1))
    return torch.einsum("ijab,ab->ij", windows, K)
''',
}


@pytest.mark.parametrize("habit", HONEST, ids=list(HONEST))
def test_honest_habits_reach_nothing_forbidden(habit):
    assert findings(HONEST[habit]) == []


def test_a_global_the_function_shadows_with_a_local_is_not_reached():
    other_cell = "X_d, K_d = torch.randn(5, 5), torch.randn(2, 2)\nY = F.conv2d(X_d[None, None], K_d[None, None])\n"
    assert findings(other_cell, LOOP_CORR2D) == []
    # ... but the same global read by the function is
    reads_global = "def corr2d(X, K):\n    return Y[0, 0]\n"
    found = forbidden(other_cell, reads_global)
    assert [(f.what, f.cell, f.line) for f in found] == [("F.conv2d", "cell 2", 2)]


def test_a_cell_magic_is_read_with_its_body_and_lines_stay_right():
    cell = "%%time\n\ndef corr2d(X, K):\n    return X.unfold(0, 2, 1)\n"
    [finding] = forbidden(cell)
    assert (finding.what, finding.cell, finding.line) == ("X.unfold", "cell 2", 4)
    line_magic = "!ls\n%time x = 1\n\ndef corr2d(X, K):\n    return F.conv2d(X, K)\n"
    assert [(f.what, f.line) for f in forbidden(line_magic)] == [("F.conv2d", 5)]


def test_calling_another_honest_exercise_is_honest():
    multi_in = "def corr2d_multi_in(X, K):\n    return sum(corr2d(x, k) for x, k in zip(X, K))\n"
    assert findings(LOOP_CORR2D, multi_in, root="corr2d_multi_in") == []


def test_a_class_exercise_reaches_its_body_and_methods():
    conv = '''
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return {forward} + self.bias
'''
    assert findings(LOOP_CORR2D, conv.format(forward="corr2d(x, self.weight)"), root="Conv2D") == []
    [finding] = forbidden(conv.format(forward="F.conv2d(x[None, None], self.weight[None, None])[0, 0]"),
                          root="Conv2D")
    assert (finding.what, finding.line, finding.inside) == ("F.conv2d", 9, "forward")


def test_a_self_test_loop_below_a_matrix_product_is_not_a_loop_of_the_answer():
    answer = '''
def corr2d_multi_in_out_1x1(X, K):
    c_i, h, w = X.shape
    c_o = K.shape[0]
    return (K.reshape(c_o, c_i) @ X.reshape(c_i, h * w)).reshape(c_o, h, w)

for c_i, c_o in [(1, 1), (3, 2)]:
    X_t, K_t = torch.randn(c_i, 3, 3), torch.randn(c_o, c_i, 1, 1)
    assert corr2d_multi_in_out_1x1(X_t, K_t).shape == (c_o, 3, 3)
print([corr2d_multi_in_out_1x1(torch.ones(2, 2, 2), torch.ones(1, 2, 1, 1)) for _ in range(2)])
'''
    assert reach(answer, root="corr2d_multi_in_out_1x1").loops == []
    looping = "def corr2d_multi_in_out_1x1(X, K):\n    return torch.stack([k[0, 0] * X for k in K])\n"
    assert [(l.kind, l.cell, l.line) for l in reach(looping, root="corr2d_multi_in_out_1x1").loops] \
        == [("a list comprehension", "cell 2", 2)]


def test_a_loop_in_a_helper_the_answer_calls_is_reached():
    helper = "def each(K):\n    return [k for k in K]\n"
    answer = "def corr2d_multi_in_out_1x1(X, K):\n    return torch.stack(each(K))\n"
    [loop] = reach(helper, answer, root="corr2d_multi_in_out_1x1").loops
    assert (loop.cell, loop.line, loop.inside) == ("cell 2", 2, "each")


# -- evasions fail, closed, with the cell and line ---------------------------------------------

EVASIONS = {
    "a rebinding": ("corr2d = F.conv2d", "F.conv2d", 1),
    "a lambda": ("corr2d = lambda X, K: F.conv2d(X[None, None], K[None, None])[0, 0]", "F.conv2d", 1),
    "torch.conv_tbc": ("def corr2d(X, K):\n    return torch.conv_tbc(X[:, None], K[:, :, None], K[0, :1])",
                       "torch.conv_tbc", 2),
    "a computed getattr": ("def corr2d(X, K):\n    return getattr(F, 'con' + 'v2d')(X, K)",
                           "getattr(F, 'con' + 'v2d')", 2),
    "getattr(torch, name)": ("name = 'conv2d'\ndef corr2d(X, K):\n    return getattr(torch, name)(X, K)",
                             "getattr(torch, name)", 3),
    "torch._C": ("def corr2d(X, K):\n    torch._C._DisableTorchDispatch()\n    return X", "torch._C._DisableTorchDispatch", 2),
    "torch.ops.aten.convolution": ("def corr2d(X, K):\n    return torch.ops.aten.convolution(X, K, None, [1], [0], [1], False, [0], 1)",
                                   "torch.ops.aten.convolution", 2),
    "exec": ("def corr2d(X, K):\n    exec('Y = F.conv2d(X, K)')\n    return X", "exec", 2),
    "eval": ("def corr2d(X, K):\n    return eval('F.con' + 'v2d')(X, K)", "eval", 2),
    "__import__": ("def corr2d(X, K):\n    return __import__('torch').conv2d(X, K)", "__import__", 2),
    "importlib": ("import importlib\ndef corr2d(X, K):\n    return importlib.import_module('torch').conv2d(X, K)",
                  "import importlib", 1),
    "Tensor.unfold": ("def corr2d(X, K):\n    return (X.unfold(0, 2, 1).unfold(1, 2, 1) * K).sum((-1, -2))",
                      "X.unfold", 2),
    "an import inside the function": ("def corr2d(X, K):\n    from torch import conv_tbc as ct\n    return ct(X, K, K)",
                                      "ct", 3),
    "a global rebound inside a function": ("def corr2d(X, K):\n    return X\ndef setup():\n    global corr2d\n"
                                           "    corr2d = F.conv2d\nsetup()", "F.conv2d", 5),
    "a write through globals()": ("def corr2d(X, K):\n    return X\nglobals()['corr2d'] = F.conv2d", "F.conv2d", 3),
    "a computed key into globals()": ("def corr2d(X, K):\n    return globals()['con' + 'v'](X, K)", "globals", 2),
    "torch patched": ("torch.matmul = F.conv2d\ndef corr2d(X, K):\n    return torch.matmul(X, K)", "torch.matmul", 1),
    "a stash in a list": ("fns = []\nfns.append(F.conv2d)\ndef corr2d(X, K):\n    return fns[0](X, K)", "F.conv2d", 2),
    "a stash in a default argument": ("def corr2d(X, K, keep=[]):\n    if X is None:\n        keep.append(K)\n"
                                      "        return\n    return keep[0](X, K)\ncorr2d(None, F.conv2d)", "F.conv2d", 6),
    "an attribute set on the function": ("def corr2d(X, K):\n    return corr2d.impl(X, K)\ncorr2d.impl = F.conv2d",
                                         "F.conv2d", 3),
    "Jupyter's output history": ("def corr2d(X, K):\n    return _(X, K)", "_", 2),
    "sys.modules": ("import sys\ndef corr2d(X, K):\n    return sys.modules['torch'].conv2d(X, K)", "sys.modules", 3),
    "%run": ("%run helpers.py\ndef corr2d(X, K):\n    return X", "%run", 1),
    "an import as the exercise": ("from torch.nn.functional import conv2d as corr2d", "corr2d", 1),
    "the class of a tensor": ("def corr2d(X, K):\n    return X.__class__.unfold(X, 0, 2, 1)", "X.__class__", 2),
}


@pytest.mark.parametrize("evasion", EVASIONS, ids=list(EVASIONS))
def test_evasions_are_forbidden_shortcuts_located(evasion):
    source, what, line = EVASIONS[evasion]
    found = forbidden(source)
    assert (what, "cell 2", line) in [(f.what, f.cell, f.line) for f in found], found


def test_a_thread_fails_the_check_and_says_where():
    source = "import threading\ndef corr2d(X, K):\n    t = threading.Thread(target=print)\n    t.start()\n    return X\n"
    [finding] = findings(source)
    assert (finding.what, finding.line, finding.forbidden) == ("threading.Thread", 3, False)
    assert "not on the list" in finding.why


def test_another_exercise_doing_the_convolution_does_not_clear_this_one():
    """corr2d_multi_in is a separate exercise; calling it is honest, but its F.conv2d is
    what corr2d reaches, so corr2d is not cleared by it (today's exemption is gone)."""
    multi_in = "def corr2d_multi_in(X, K):\n    return F.conv2d(X[None], K[None])[0, 0]\n"
    corr2d = "def corr2d(X, K):\n    return corr2d_multi_in(X[None], K[None])\n"
    [finding] = forbidden(multi_in, corr2d)
    assert (finding.what, finding.cell, finding.line, finding.inside) == ("F.conv2d", "cell 2", 2, "corr2d_multi_in")
    assert finding.sentence("corr2d") == "`corr2d` reaches `F.conv2d` (cell 2, line 2, inside `corr2d_multi_in`)"


# -- the policy ------------------------------------------------------------------------------

def outcomes():
    return [{"exercise": "corr2d", "id": "test_a", "status": "passed", "score": 2.0, "output": ""},
            {"exercise": "corr2d", "id": "test_shortcut", "status": "failed", "score": 0.0,
             "output": "...", "shortcut": "`corr2d` reaches `F.conv2d` (cell 5, line 7)"},
            {"exercise": "Conv2D", "id": "test_b", "status": "passed", "score": 1.0, "output": ""}]


def test_void_exercise_zeroes_every_check_of_that_exercise_only_and_says_why_once():
    tests = outcomes()
    notes = shortcuts.apply_policy(tests, "void_exercise")
    assert [t["score"] for t in tests] == [0.0, 0.0, 1.0]
    assert "cell 5, line 7" in tests[0]["output"] and "shortcut" not in tests[1]
    assert len(notes) == 1 and "cell 5, line 7" in notes[0] and "every check of `corr2d`" in notes[0]


def test_fail_check_costs_the_check_alone():
    tests = outcomes()
    assert shortcuts.apply_policy(tests, "fail_check") == []
    assert [t["score"] for t in tests] == [2.0, 0.0, 1.0]


def test_the_policy_is_read_from_course_toml(tmp_path, monkeypatch):
    config = tmp_path / "course.toml"
    monkeypatch.setenv("CONVGRADE_COURSE_CONFIG", str(config))
    assert deadlines.policy() == "void_exercise"  # no file
    config.write_text('[policy]\nforbidden_shortcut = "fail_check"\n')
    assert deadlines.policy() == "fail_check"
    config.write_text("[assignments.a1_cross_correlation]\ndue = 2026-09-15T23:59:00Z\n")
    assert deadlines.policy() == "void_exercise"  # no [policy] table
    config.write_text('[policy]\nforbidden_shortcut = "warn"\n')
    with pytest.raises(deadlines.ConfigError, match="void_exercise"):
        deadlines.policy()


# -- end to end, through the sandbox ------------------------------------------------------------

A1 = "a1_cross_correlation"
SHORTCUT_ANSWER = '''
def corr2d(X, K):
    h, w = K.shape

    return torch.nn.functional.conv2d(X[None, None], K[None, None])[0, 0]
'''


def corr2d_checks(result):
    return [t for t in result["tests"] if t["exercise"] == "corr2d"]


@pytest.fixture
def policy(tmp_path, monkeypatch):
    def choose(value):
        config = tmp_path / "course.toml"
        config.write_text(f'[policy]\nforbidden_shortcut = "{value}"\n')
        monkeypatch.setenv("CONVGRADE_COURSE_CONFIG", str(config))
    return choose


def test_by_default_a_forbidden_shortcut_voids_the_exercise(policy):
    policy("void_exercise")
    result = grade(make_submission(A1, {"corr2d": SHORTCUT_ANSWER}), A1, seed=5)
    assert result["gradable"], dumps(result)
    assert all(t["score"] == 0 for t in corr2d_checks(result)), dumps(result)
    others = [t for t in result["tests"] if t["exercise"] != "corr2d"]
    assert all(t["status"] == "passed" for t in others), dumps(result)  # Conv2D uses corr2d: values right
    [note] = [n for n in result["notes"] if "forbidden shortcut" in n]
    assert "`corr2d` reaches `torch.nn.functional.conv2d` (corr2d, line 5)" in note, note
    shortcut = next(t for t in result["tests"] if t["id"] == "test_corr2d_no_builtin_conv")
    assert "(corr2d, line 5)" in shortcut["output"], shortcut


def test_under_fail_check_only_the_shortcut_check_is_lost(policy):
    policy("fail_check")
    result = grade(make_submission(A1, {"corr2d": SHORTCUT_ANSWER}), A1, seed=5)
    assert failed_tests(result) == {"test_corr2d_no_builtin_conv"}, dumps(result)
    assert not [n for n in result["notes"] if "forbidden shortcut" in n]


def test_an_honest_notebook_with_its_own_checks_against_f_conv2d_keeps_full_marks(policy):
    policy("void_exercise")
    answer = "from torch.nn.functional import pad, conv2d\n" + LOOP_CORR2D + '''
X_t, K_t = torch.randn(5, 6), torch.randn(2, 3)
print(torch.allclose(corr2d(X_t, K_t), conv2d(X_t[None, None], K_t[None, None])[0, 0], atol=1e-6))
'''
    added = [("after", "corr2d", "Y = F.conv2d(X_t[None, None], K_t[None, None])[0, 0]\n"
                                 "%timeit corr2d(X_t, K_t)\nprint((corr2d(X_t, K_t) - Y).abs().max())\n")]
    result = grade(make_submission(A1, {"corr2d": answer}, added=added), A1, seed=5)
    assert result["score"] == result["max_score"], dumps(result)


ESCAPES_ANYWHERE = {
    "exec at the top level": "exec('corr2d = F.conv2d')",
    "gc's view of every object": "import gc\nspaces = gc.get_objects()",
    "a frame's globals": "import sys\nsys._getframe(0).f_globals['corr2d'] = F.conv2d",
    "vars()": "vars()['corr2d'] = F.conv2d",
}


@pytest.mark.parametrize("escape", ESCAPES_ANYWHERE, ids=list(ESCAPES_ANYWHERE))
def test_what_can_rewrite_the_namespace_anywhere_is_a_forbidden_shortcut(escape):
    found = forbidden(LOOP_CORR2D, ESCAPES_ANYWHERE[escape])
    assert [f.cell for f in found] and {f.cell for f in found} == {"cell 3"}, found


def test_saving_and_loading_the_notebooks_own_objects_is_not_an_escape():
    """Pickling a layer the notebook defines and loading it back (torch.save / torch.load with
    weights_only=False, pickle) is what honest notebooks do; only reached code is held to the
    list, where pickle is not allowed."""
    roundtrip = ("import pickle\nblob = pickle.dumps(K)\nK2 = pickle.loads(blob)\n"
                 "torch.save(K, 'k.pt')\nK3 = torch.load('k.pt', weights_only=False)\n")
    assert findings(LOOP_CORR2D, roundtrip) == []


def test_reading_the_notebooks_own_module_is_not_an_escape():
    assert findings(LOOP_CORR2D, "import sys\nthis = sys.modules[__name__]\nprint(this.__name__)\n") == []
    assert [f.cell for f in forbidden(LOOP_CORR2D, "import sys\nsys.modules['torch.nn.functional'].x = 1\n")]


def test_honest_top_level_housekeeping_is_not_an_escape():
    housekeeping = ("import gc, sys, time\ngc.collect()\nprint(sys.version)\nstart = time.time()\n"
                    "torch.backends.cudnn.deterministic = True\nstate = torch.load('w.pt') if False else None\n")
    assert findings(LOOP_CORR2D, housekeeping) == []


def test_torchscript_on_the_answer_is_honest():
    assert findings("@torch.jit.script\n" + LOOP_CORR2D.lstrip()) == []


def test_a_loop_that_built_a_global_once_is_not_a_loop_of_the_answer():
    table = "SHIFT = [(i, j) for i in range(1) for j in range(1)]\n"
    answer = "def corr2d_multi_in_out_1x1(X, K):\n    return torch.einsum('oc,chw->ohw', K[:, :, SHIFT[0][0], 0], X)\n"
    assert reach(table, answer, root="corr2d_multi_in_out_1x1").loops == []


MORE_EVASIONS = {
    "getattr handed to reduce": ("import functools\ndef corr2d(X, K):\n"
                                 "    return functools.reduce(getattr, ['nn', 'functional'], torch).pad(X, (0, 0))",
                                 "getattr", 3),
    "torch's table of overridable functions": ("def corr2d(X, K):\n    table = torch.overrides.get_overridable_functions()\n"
                                               "    return X", "torch.overrides.get_overridable_functions", 2),
    "a private torch module": ("def corr2d(X, K):\n    return torch._refs.mul(X, K)", "torch._refs.mul", 2),
    "a module the notebook wrote": ("%%writefile helpers.py\ndef corr(X, K):\n    return X\n", None, None),
    "numpy's sliding windows": ("import numpy as np\ndef corr2d(X, K):\n"
                                "    return np.lib.stride_tricks.sliding_window_view(X, K.shape)",
                                "np.lib.stride_tricks.sliding_window_view", 3),
}


@pytest.mark.parametrize("evasion", [e for e in MORE_EVASIONS if MORE_EVASIONS[e][1]], ids=repr)
def test_more_evasions_are_forbidden_shortcuts(evasion):
    source, what, line = MORE_EVASIONS[evasion]
    assert (what, line) in [(f.what, f.line) for f in forbidden(source)], findings(source)


def test_a_module_the_notebook_writes_is_unreadable_and_forbidden():
    written = MORE_EVASIONS["a module the notebook wrote"][0]
    answer = "from convgrade_student_helpers import corr\ndef corr2d(X, K):\n    return corr(X, K)\n"
    [finding] = forbidden(written, answer)
    assert (finding.what, finding.cell, finding.line) == ("corr", "cell 3", 3)
    assert "cannot read" in finding.why


def test_state_kept_in_a_global_or_a_file_is_honest():
    counted = """
import os
def corr2d(X, K):
    global CALLS
    calls = globals().get('CALLS', 0) + 1
    CALLS = calls
    if os.path.exists('/tmp/calls'):
        calls += int(open('/tmp/calls').read())
    return X[:1, :1] * K.sum()
"""
    assert findings(counted) == []


def test_a_helper_module_written_with_writefile_is_read_like_the_rest():
    writes = "%%writefile helpers.py\nimport torch.nn.functional as G\n\ndef window_sum(X, K, i, j):\n    {body}\n"
    answer = ("from helpers import window_sum\nimport helpers\n\ndef corr2d(X, K):\n"
              "    return helpers.window_sum(X, K, 0, 0) + window_sum(X, K, 0, 0)\n")
    honest = writes.format(body="return (X[i:i + K.shape[0], j:j + K.shape[1]] * K).sum()")
    assert findings(honest, answer) == []
    shortcut = writes.format(body="return G.conv2d(X[None, None], K[None, None])[0, 0, i, j]")
    found = forbidden(shortcut, answer)
    assert ("G.conv2d", "cell 2 (helpers.py)", 5) in [(f.what, f.cell, f.line) for f in found], found


# -- judged by identity: what the code calls, not how it spells it (issue 26 items 1 and 2) ---------

IMPORTS = "import dataclasses, functools, logging, os, string, typing\n"

ROUTES_BY_IDENTITY = {
    # the three spellings of the issue: modules that re-export sys, inspect and operator
    "attrgetter through typing, sys.modules through logging": (
        "def corr2d(X, K):\n"
        "    pool = typing.operator.attrgetter('nn.functional.max_pool2d')(logging.sys.modules['torch'])\n"
        "    return pool(X[None, None], 2)[0, 0]\n", 3),
    "string.Formatter's field lookup": (
        "def corr2d(X, K):\n"
        "    conv = string.Formatter().get_field('0.nn.functional.conv2d', (logging.sys.modules['torch'],), {})[0]\n"
        "    return conv(X[None, None], K[None, None])[0, 0]\n", 3),
    "getattr_static through dataclasses, sys.modules through os.path": (
        "def corr2d(X, K):\n"
        "    conv = dataclasses.inspect.getattr_static(os.path.sys.modules['torch.nn.functional'], 'conv2d')\n"
        "    return conv(X[None, None], K[None, None])[0, 0]\n", 3),
    "a frame through logging.sys": ("def corr2d(X, K):\n    return logging.sys._getframe(0)\n", 3),
    "pydoc's lookup by a string": ("import pydoc\ndef corr2d(X, K):\n"
                                   "    return pydoc.locate('torch.nn.functional.conv2d')(X, K)\n", 4),
    "pkgutil's lookup by a string": ("import pkgutil\ndef corr2d(X, K):\n"
                                     "    return pkgutil.resolve_name('torch.nn.functional:conv2d')(X, K)\n", 4),
    "an alias of an escape module": ("import typing as t\nops = t.operator\ndef corr2d(X, K):\n"
                                     "    return ops.methodcaller('conv2d', X, K)(torch)\n", 5),
    "a default argument": ("def corr2d(X, K, conv=logging.sys.modules['torch'].conv2d):\n"
                           "    return conv(X[None, None], K[None, None])[0, 0]\n", 2),
    "a class attribute": ("class Ops:\n    window = dataclasses.inspect.getattr_static(torch, 'conv2d')\n"
                          "def corr2d(X, K):\n    return Ops.window(X[None, None], K[None, None])[0, 0]\n", 3),
    "a closure": ("def make():\n    conv = typing.operator.attrgetter('conv2d')(torch)\n"
                  "    def inner(X, K):\n        return conv(X[None, None], K[None, None])[0, 0]\n"
                  "    return inner\ncorr2d = make()\n", 3),
    "functools.partial of a forbidden function": (
        "window = functools.partial(torch.nn.functional.conv2d, stride=1)\n"
        "def corr2d(X, K):\n    return window(X[None, None], K[None, None])[0, 0]\n", 2),
    "a decorator": ("def swap(f):\n    return torch.nn.functional.conv2d\n@swap\n"
                    "def corr2d(X, K):\n    return X\n", 3),
    "an alias that hides the name": ("from torch import conv2d as multiply_elementwise\n"
                                     "def corr2d(X, K):\n    return multiply_elementwise(X[None, None], K[None, None])[0, 0]\n", 4),
    "a pooling reached through interpolate": (
        "def corr2d(X, K):\n    return torch.nn.functional.interpolate(X[None, None], size=2, mode='area')[0, 0]\n", 3),
}


@pytest.mark.parametrize("route", ROUTES_BY_IDENTITY, ids=list(ROUTES_BY_IDENTITY))
def test_routes_are_judged_by_what_they_resolve_to(route):
    source, line = ROUTES_BY_IDENTITY[route]
    found = forbidden(IMPORTS + source)
    assert line in [f.line for f in found if f.cell == "cell 2"], findings(IMPORTS + source)


PAIR_CORR2D = '''
from torch.nn.modules.utils import _pair, _single
import math, itertools, functools

def corr2d(X, K, padding=0, stride=1):
    (p_h, p_w), (s_h, s_w) = _pair(padding), _pair(stride)
    (h,) = _single(K.shape[0])
    w = K.shape[1]
    Xp = torch.nn.functional.pad(X, (p_w, p_w, p_h, p_h))
    out_h = math.floor((Xp.shape[0] - h) / s_h) + 1
    out_w = (Xp.shape[1] - w) // s_w + 1
    rows = [torch.stack([(Xp[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum()
                         for j in range(out_w)]) for i in range(out_h)]
    return functools.reduce(lambda a, b: a, [torch.stack(rows)], None)
'''


def test_the_helpers_nn_conv2d_itself_uses_are_honest():
    assert findings(PAIR_CORR2D) == []


def test_an_unlisted_harmless_helper_costs_the_one_check_and_says_why():
    source = "import textwrap\ndef corr2d(X, K):\n    textwrap.dedent('  x')\n    return X\n"
    [finding] = findings(source)
    assert (finding.what, finding.line, finding.forbidden) == ("textwrap.dedent", 3, False)
    assert finding.why == ("`dedent` from textwrap is not on the list of operations this exercise "
                           "may use; it costs this one check")


def test_a_module_object_is_not_pure_as_a_whole():
    """A module used as a value is judged for what it is, never allowed because of its name."""
    [finding] = findings("import math\ndef corr2d(X, K, m=math):\n    return m.floor(X)\n")
    assert not finding.forbidden and finding.line == 2


A2 = "a2_padding_stride_channels"


def test_an_honest_pair_helper_keeps_full_marks(policy):
    policy("void_exercise")
    answer = ("from torch.nn.modules.utils import _pair\n\n"
              "def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):\n"
              "    (p_h, p_w), (s_h, s_w) = _pair(padding), _pair(stride)\n"
              "    H, W = X.shape\n    h, w = K.shape\n"
              "    Xp = torch.zeros((H + 2 * p_h, W + 2 * p_w), dtype=X.dtype, device=X.device)\n"
              "    Xp[p_h:p_h + H, p_w:p_w + W] = X\n"
              "    out_h, out_w = (H + 2 * p_h - h) // s_h + 1, (W + 2 * p_w - w) // s_w + 1\n"
              "    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)\n"
              "    for i in range(out_h):\n        for j in range(out_w):\n"
              "            Y[i, j] = (Xp[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum()\n"
              "    return Y\n")
    result = grade(make_submission(A2, {"corr2d_padded_strided": answer}), A2, seed=5)
    assert result["score"] == result["max_score"], dumps(result)


def test_an_unlisted_helper_costs_exactly_one_check_end_to_end(policy):
    policy("void_exercise")
    answer = LOOP_CORR2D.replace("    return Y", "    textwrap.dedent('  fine')\n    return Y")
    result = grade(make_submission(A1, {"corr2d": "import textwrap\n" + answer}), A1, seed=5)
    assert failed_tests(result) == {"test_corr2d_no_builtin_conv"}, dumps(result)
    [lost] = [t for t in result["tests"] if t["status"] == "failed"]
    assert "`dedent` from textwrap is not on the list of operations this exercise may use; " \
           "it costs this one check" in lost["output"], lost
    assert not [n for n in result["notes"] if "forbidden shortcut" in n]


def test_the_run_time_line_catches_what_the_static_rule_let_through(policy, monkeypatch):
    """With the static rule switched off, torch's convolution still cannot compute corr2d: the
    check processes run it against kernels that refuse, and the grading names the route."""
    from grader.engine import checks

    monkeypatch.setattr(checks, "uses_any", lambda student, exercise, names=(): [])
    policy("void_exercise")
    result = grade(make_submission(A1, {"corr2d": SHORTCUT_ANSWER}), A1, seed=5)
    assert all(t["score"] == 0 for t in corr2d_checks(result)), dumps(result)
    [note] = [n for n in result["notes"] if "forbidden shortcut" in n]
    assert "aten::convolution" in note, note
    honest = grade(make_submission(A1), A1, seed=5)
    assert honest["score"] == honest["max_score"], dumps(honest)


def test_the_run_time_line_notes_a_kernel_even_when_the_error_is_caught_and_leaves_torch_as_it_was():
    """In the notebook's own kernel (nbgrader's door), a guarded call notes the windowing
    operator it reached, computes as torch does, and afterwards torch is torch again."""
    import torch
    from grader.untrusted.child import Child

    namespace = {}
    exec("import torch.nn.functional as F\n"
         "def corr2d(X, K):\n"
         "    try:\n"
         "        return F.conv2d(X[None, None], K[None, None])[0, 0]\n"
         "    except Exception:\n"
         "        return X[:1, :1]\n"
         "def honest(X, K):\n"
         "    return (X[:2, :2] * K).sum()\n"
         "def raises_after(X, K):\n"
         "    F.max_pool2d(X[None], 2)\n"
         "    raise ValueError('no')\n", namespace)
    X, K = torch.randn(4, 4), torch.randn(2, 2)
    child = Child(namespace)
    reply = child.op_call("corr2d", (X, K), guard=True)
    assert reply["forbidden"] == "aten::convolution"
    assert torch.equal(reply["result"], torch.nn.functional.conv2d(X[None, None], K[None, None])[0, 0])
    assert "forbidden" not in child.op_call("honest", (X, K), guard=True)
    assert "forbidden" not in child.op_call("corr2d", (X, K))  # an exercise without the rule
    with pytest.raises(Exception, match="aten::max_pool2d"):  # the route survives the student's error
        child.op_call("raises_after", (X, K), guard=True)
    assert not torch._C._dispatch_has_kernel_for_dispatch_key("aten::convolution", "ADInplaceOrView")


# -- an unlisted Python callable that looks up by a run-time value is an escape (issue 26) ---------

def test_logging_configs_resolve_is_an_escape_named_with_its_reason():
    """BaseConfigurator is on no list: its resolve calls `__import__`, found in its source."""
    source = ("import logging.config\n_resolve = logging.config.BaseConfigurator({}).resolve\n"
              "def corr2d(X, K):\n    return _resolve('torch.nn.functional.conv' + '2d')(X[None, None], K[None, None])[0, 0]\n")
    [finding] = findings(source)
    assert (finding.what, finding.line, finding.forbidden) == ("logging.config.BaseConfigurator", 2, True)
    assert finding.why == ("`BaseConfigurator` from logging.config looks up names given to it at run time "
                           "(it calls `__import__`); the grader cannot follow that")


def test_a_locate_like_function_of_a_module_on_no_list_is_an_escape():
    """xmlrpc.server's resolve_dotted_attribute walks `getattr` by the names it is given."""
    source = ("from xmlrpc.server import resolve_dotted_attribute as walk\n"
              "def corr2d(X, K):\n    return walk(torch, 'nn.functional.conv2d')(X[None, None], K[None, None])[0, 0]\n")
    [finding] = [f for f in findings(source) if f.what == "walk"]
    assert (finding.line, finding.forbidden) == (3, True)
    assert finding.why == ("`resolve_dotted_attribute` from xmlrpc.server looks up names given to it at run "
                           "time (it calls `getattr` with a name given at run time); the grader cannot follow that")


def test_a_subclass_in_the_same_module_inherits_the_lookup():
    """DictConfigurator's own code never calls __import__; its base class, named in its module, does."""
    [finding] = findings("import logging.config\ndef corr2d(X, K):\n"
                         "    return logging.config.DictConfigurator({}).resolve('torch')\n")
    assert finding.forbidden and "(it calls `__import__`)" in finding.why


def test_honest_namedtuple_dataclass_and_stdlib_helpers_are_not_lookups():
    """What a helper calls is judged, not how its class was made: a namedtuple's class is made by
    exec, but instantiating it looks nothing up. An unlisted harmless helper still costs only
    its one check (textwrap.dedent, argparse.Namespace, whose __eq__ compares vars of two objects)."""
    source = '''
from collections import namedtuple
from dataclasses import dataclass
import argparse, textwrap
Shape = namedtuple("Shape", "h w")

@dataclass
class Window:
    h: int
    w: int

def corr2d(X, K):
    s, win = Shape(*K.shape), Window(*K.shape)
    opts = argparse.Namespace(stride=1)
    textwrap.dedent("  x")
    return torch.stack([torch.stack([(X[i:i + s.h, j:j + win.w] * K).sum()
                                     for j in range(X.shape[1] - win.w + opts.stride)])
                        for i in range(X.shape[0] - s.h + 1)])
'''
    found = findings(source)
    assert [(f.what, f.forbidden) for f in found] == [("argparse.Namespace", False), ("textwrap.dedent", False)], found
    assert shortcuts._runtime_lookup(_namedtuple_class()) is None


def _namedtuple_class():
    """A class made by namedtuple (by exec): no source to read, and nothing it calls looks up."""
    from collections import namedtuple

    return namedtuple("Usage", "calls")


def test_the_correlation_theorem_with_torch_fft_is_honest():
    """The notebooks forbid torch's convolution, pooling and unfold, not its FFT."""
    source = '''
def corr2d(X, K):
    H, W = X.shape
    h, w = K.shape
    spectrum = torch.fft.rfft2(X) * torch.fft.rfft2(K, s=(H, W)).conj()
    return torch.fft.irfft2(spectrum, s=(H, W))[:H - h + 1, :W - w + 1]
'''
    assert findings(source) == []
