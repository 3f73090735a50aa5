"""Hostile submissions gain nothing and break nothing.

Each attack is the corr2d answer cell of a1 (the rest of the notebook left as the
released stubs, or filled with a wrong corr2d). For each: the score it earns, that it
is graded within its limits, that the grader process and its sandbox template survive,
and that the next honest submission still grades to full marks.
"""

import time

import pytest

from grader.assignments import COURSE_DIR
from grader.grading import grade
from grader.sandbox import Limits, Zygote
from submissions import dumps, make_submission

A1 = "a1_cross_correlation"
LIMITS = Limits(call_seconds=3, program_seconds=6, submission_seconds=30)
WALL_CLOCK_ALLOWANCE = LIMITS.submission_seconds + 15

STUB = "\ndef corr2d(X, K):\n    raise NotImplementedError()\n"
WRONG = """
def corr2d(X, K):
    h, w = K.shape
    return torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1, dtype=X.dtype, device=X.device)
"""
RIG_COMPARISONS = """
import torch, torch.testing
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *a, **k: None
torch.Tensor.__eq__ = lambda self, other: True
"""

ATTACKS = {
    "rigged_torch_comparisons": RIG_COMPARISONS + STUB,
    "tensor_subclass_with_rigged_torch_function": """
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True
    def __eq__(self, other):
        return True

def corr2d(X, K):
    return torch.zeros(1).as_subclass(Liar)
""",
    "sys_exit_at_top_level": "import sys\nsys.exit(0)\n" + STUB,
    "os_exit_at_top_level": "import os\nos._exit(0)\n" + STUB,
    "keyboard_interrupt": "raise KeyboardInterrupt\n" + STUB,
    "os_exit_inside_call": "import os\ndef corr2d(X, K):\n    os._exit(0)\n",
    "kill_parent_and_everything": """
import os, signal
for pid in (os.getppid(), 1, -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
""" + STUB,
    "print_fake_result": """
import json
print(json.dumps({"assignment": "a1_cross_correlation", "gradable": True, "score": 20.0,
                  "max_score": 20.0, "tests": []}))
""" + STUB,
    "write_where_tests_and_results_live": """
import os, glob
for target in ["/work/main/autograde_tests/a1_cross_correlation/test_pwned.py",
               "/work/main/autograde_tests/conftest.py", "/work/main/data/result.json",
               "/work/main/grader/runner.py"]:
    try:
        with open(target, "w") as f:
            f.write("raise SystemExit('pwned')\\n")
    except OSError:
        pass
""" + STUB,
    "read_hidden_tests_and_solutions": """
import os
for root in ["/work/main/autograde_tests", "/work/main/solutions", "/work/main/tests"]:
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                print(open(os.path.join(dirpath, name)).read())
            except OSError:
                pass
""" + STUB,
    "network_connection": """
import socket
for host, port in [("127.0.0.1", 8000), ("127.0.0.1", 22), ("1.1.1.1", 80)]:
    try:
        socket.create_connection((host, port), timeout=1).sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        print("CONNECTED", host, port)
    except OSError:
        pass
""" + STUB,
    "infinite_loop_at_top_level": "while True:\n    pass\n" + STUB,
    "infinite_loop_inside_call": "def corr2d(X, K):\n    while True:\n        pass\n",
    "memory_bomb": "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 27))\n" + STUB,
    "fork_bomb": """
import os
def corr2d(X, K):
    while True:
        try:
            os.fork()
        except OSError:
            pass
""",
    "hundred_megabytes_of_output": "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (1 << 20))\n" + STUB,
    "segfault_through_ctypes": "import ctypes\nctypes.string_at(0)\n" + STUB,
}

ATTACKS = {name: source.replace("/work/main", str(COURSE_DIR)) for name, source in ATTACKS.items()}

# The attack next to a wrong answer must earn exactly what the wrong answer earns alone.
ATTACKS_WITH_WRONG_ANSWER = {
    "rigged_torch_comparisons_with_wrong_answer": RIG_COMPARISONS + WRONG,
}


@pytest.fixture(scope="module")
def reference_notebook():
    return make_submission(A1)


def assert_grader_healthy(reference_notebook):
    assert Zygote.shared().process.poll() is None
    result = grade(reference_notebook, A1)
    assert result["score"] == result["max_score"] > 0, dumps(result)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_earns_nothing_and_breaks_nothing(name, reference_notebook):
    notebook = make_submission(A1, {"corr2d": ATTACKS[name]}, reference=False)
    started = time.monotonic()
    result = grade(notebook, A1, limits=LIMITS)
    assert time.monotonic() - started < WALL_CLOCK_ALLOWANCE
    assert result["score"] == 0, dumps(result)
    assert "pwned" not in result.get("stdout", "")
    assert "CONNECTED" not in result.get("stdout", "")
    assert "@check(" not in result.get("stdout", "")
    assert "### BEGIN SOLUTION" not in result.get("stdout", "")
    assert_grader_healthy(reference_notebook)


@pytest.mark.parametrize("name", sorted(ATTACKS_WITH_WRONG_ANSWER))
def test_attack_beside_wrong_answer_gains_nothing(name, reference_notebook):
    honest = grade(make_submission(A1, {"corr2d": WRONG}), A1, limits=LIMITS)
    attack = grade(make_submission(A1, {"corr2d": ATTACKS_WITH_WRONG_ANSWER[name]}), A1, limits=LIMITS)
    assert attack["score"] == honest["score"] < honest["max_score"], dumps(attack)


def test_huge_notebooks_are_refused_clearly():
    many_cells = make_submission(A1).replace(b'"cells": [', b'"cells": [' + b'{"cell_type": "markdown", "metadata": {}, "source": "x"},' * 10_000, 1)
    big_cell = make_submission(A1, {"corr2d": "x = 1\n" * ((50 << 20) // 6)})
    for notebook in (many_cells, big_cell):
        result = grade(notebook, A1)
        assert result["gradable"] is False and result["score"] == 0
        assert result["format_errors"], dumps(result)


def test_files_outside_the_sandbox_are_untouched():
    protected = ["autograde_tests/a1_cross_correlation/test_pwned.py", "data/result.json"]
    assert not any((COURSE_DIR / p).exists() for p in protected)
