"""Hostile submissions gain nothing and break nothing.

Each attack is the corr2d answer cell of a1 (the rest of the notebook left as the
released stubs, or filled with a wrong corr2d). For each: the score it earns, that it
is graded within its limits, that the grader process and its sandbox template survive,
and that the next honest submission still grades to full marks.
"""

import json
import subprocess
import sys
import time

import pytest

from grader.cli import summary
from grader.course.assignments import COURSE_DIR
from grader.engine.grading import grade
from grader.engine.sandbox import Limits, Zygote
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
               "/work/main/grader/engine/runner.py"]:
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
    # round 2: the trusted side's reading of a reply
    "reply_drip_fed_one_byte_at_a_time": """
import os, time
def corr2d(X, K):
    for fd in range(3, 64):
        try:
            os.fstat(fd)
        except OSError:
            continue
        for _ in range(200):
            try:
                os.write(fd, b"\\x00")
            except OSError:
                break
            time.sleep(1)
""",
    "reply_of_millions_of_nested_lists": "def corr2d(X, K):\n    return [[] for _ in range(4_000_000)]\n",
    "reply_nested_thousands_deep": """
def corr2d(X, K):
    value = []
    for _ in range(100_000):
        value = [value]
    return value
""",
    "exception_with_a_four_megabyte_name": """
def corr2d(X, K):
    raise type("E" * 4_000_000, (Exception,), {})("x" * 4_000_000)
""",
    "terminal_escapes_in_messages": """
def corr2d(X, K):
    raise ValueError("\\x1b]0;owned\\x07\\x1b[2J\\x1b[1;1Ha1_cross_correlation: 31 / 31\\x1b]52;c;cm0gLXJmIH4=\\x07")
""",
}

ATTACKS = {name: source.replace("/work/main", str(COURSE_DIR)) for name, source in ATTACKS.items()}

# The attack next to a wrong answer must earn exactly what the wrong answer earns alone.
ATTACKS_WITH_WRONG_ANSWER = {
    "rigged_torch_comparisons_with_wrong_answer": RIG_COMPARISONS + WRONG,
}


CAP_BYTES = 1 << 20  # a whole result, as stored and shown


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
    assert len(json.dumps(result)) < CAP_BYTES
    assert "\x1b" not in json.dumps(result, ensure_ascii=False) and "\x07" not in summary(result)
    assert_grader_healthy(reference_notebook)


@pytest.mark.parametrize("name", sorted(ATTACKS_WITH_WRONG_ANSWER))
def test_attack_beside_wrong_answer_gains_nothing(name, reference_notebook):
    honest = grade(make_submission(A1, {"corr2d": WRONG}), A1, limits=LIMITS)
    attack = grade(make_submission(A1, {"corr2d": ATTACKS_WITH_WRONG_ANSWER[name]}), A1, limits=LIMITS)
    # no more than the wrong answer alone (replacing torch's functions is itself a forbidden
    # shortcut, which may cost the exercise: grader.engine.shortcuts)
    assert attack["score"] <= honest["score"] < honest["max_score"], dumps(attack)


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


def test_what_code_prints_during_hidden_checks_is_not_returned():
    """Printing the hidden inputs would show them to every student; only the program's own output comes back."""
    # the program runs in one process, each hidden check in a fork of it: a new pid
    leaky = ("import os\nPROGRAM_PID = os.getpid()\ndef corr2d(X, K):\n    if os.getpid() != PROGRAM_PID:\n"
             "        print('LEAK', X.tolist())\n    raise NotImplementedError()\nprint('PROGRAM')\n")
    result = grade(make_submission(A1, {"corr2d": leaky}, reference=False), A1, limits=LIMITS)
    assert "PROGRAM" in result["stdout"] and "LEAK" not in result["stdout"], dumps(result)


def test_calls_look_alike_so_observing_the_grader_gains_nothing():
    """A corr2d that scribbles on its input only when the grader is not looking at the input
    afterwards: every call returns its arguments, so it is always caught, exactly as the
    honest submission that always scribbles."""
    sneaky = """
import sys
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    try:
        looking = "return_args" in repr(sys._getframe(1).f_locals) and sys._getframe(1).f_locals.get("return_args")
    except Exception:
        looking = False
    if not looking:
        with torch.no_grad():
            X.zero_()
    return Y
"""
    honest = sneaky.replace("if not looking:", "if True:")
    sneaky_result = grade(make_submission(A1, {"corr2d": sneaky}), A1, limits=LIMITS)
    honest_result = grade(make_submission(A1, {"corr2d": honest}), A1, limits=LIMITS)
    assert sneaky_result["score"] <= honest_result["score"] < honest_result["max_score"], dumps(sneaky_result)


def test_a_module_cannot_echo_an_earlier_call_into_a_later_comparison():
    """Conv2D's forward is compared with the student's own corr2d (one mistake, one check);
    here corr2d echoes whatever the forward returned last. The comparison runs in a fresh
    copy of the notebook, so the echo has nothing to echo."""
    echo = {
        "corr2d": """
_last = {}
def corr2d(X, K):
    if "out" in _last:
        return _last["out"]
    return torch.zeros((X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1), dtype=X.dtype, device=X.device)
""",
        "Conv2D": """
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = torch.full((x.shape[0] - self.weight.shape[0] + 1, x.shape[1] - self.weight.shape[1] + 1),
                         7.0, dtype=x.dtype, device=x.device) + 0 * self.weight.sum() + self.bias
        _last["out"] = (out - self.bias).detach()
        return out
""",
    }
    result = grade(make_submission(A1, echo), A1, limits=LIMITS)
    forward = next(t for t in result["tests"] if t["id"] == "test_conv2d_forward")
    assert forward["status"] == "failed", dumps(result)


def test_a_reply_flood_does_not_bloat_the_grading_process(tmp_path):
    """Millions of nested empty lists in a reply are refused before they are parsed: the
    grading process's peak memory stays near its size for an honest notebook."""
    probe = tmp_path / "peak.py"
    probe.write_text(f"""
import sys
sys.path.insert(0, {str(COURSE_DIR / "tests")!r})
from grader.engine.grading import grade
from submissions import make_submission
grade(make_submission("a1_cross_correlation"), "a1_cross_correlation")
def peak():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) // 1024
before = peak()
result = grade(make_submission("a1_cross_correlation",
    {{"corr2d": "def corr2d(X, K):\\n    return [[] for _ in range(4_000_000)]\\n"}}, reference=False),
    "a1_cross_correlation")
print(before, peak(), result["score"])
""")
    run = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=600, cwd=COURSE_DIR)
    before, after, score = run.stdout.split()
    assert float(score) == 0 and int(after) - int(before) < 200, run.stdout + run.stderr


def test_deeply_nested_metadata_costs_only_its_own_grade(tmp_path):
    """A RecursionError bait: the single-file CLI exits 2 with one line, a tree grading goes
    on and writes grades.csv for everyone."""
    nested = make_submission(A1).replace(b'"metadata": {', b'"metadata": {"x": ' + b"[" * 5000 + b"]" * 5000 + b",", 1)
    tree = tmp_path / "submitted"
    for student, content in (("mallory", nested), ("alice", make_submission(A1))):
        (tree / student / A1).mkdir(parents=True)
        (tree / student / A1 / f"{A1}.ipynb").write_bytes(content)
    one = subprocess.run([sys.executable, "-m", "grader.cli", "grade", str(tree / "mallory" / A1 / f"{A1}.ipynb")],
                         capture_output=True, text=True, timeout=300, cwd=COURSE_DIR)
    assert one.returncode == 2 and len(one.stderr.strip().splitlines()) == 1, one.stderr
    out = tmp_path / "grades.csv"
    run = subprocess.run([sys.executable, "-m", "grader.cli", "grade", str(tree), "--out", str(out), "--jobs", "1"],
                         capture_output=True, text=True, timeout=600, cwd=COURSE_DIR)
    assert run.returncode == 0, run.stderr
    rows = out.read_text()
    assert "mallory" in rows and "alice" in rows
