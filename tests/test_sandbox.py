"""The sandbox itself: what the child can and cannot do, and what crosses the boundary."""

import os
import subprocess
import time

import pytest
import torch

from grader import wire
from grader.course import assignments
from grader.engine.sandbox import Limits, Sandbox
from grader.engine.student import Student, StudentError, plain_tensor

PROBES = """
import os, socket, torch

def uid():
    return os.getuid()

def listing(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else None

def connect(host, port):
    try:
        socket.create_connection((host, port), timeout=1)
        return "connected"
    except OSError as exc:
        return type(exc).__name__

def write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "written"
    except OSError as exc:
        return type(exc).__name__

def spawn_sleepers(n):
    try:
        for _ in range(n):
            if os.fork() == 0:
                import time
                time.sleep(600)
                os._exit(0)
    except OSError as exc:
        return type(exc).__name__
    return "forked"

with open("/tmp/work/from_program.txt", "w") as f:
    f.write("the program may write; the checks, which are forks of it, may not")

def shout(n):
    print("y" * n)

def subclass():
    class Rigged(torch.Tensor):
        def __eq__(self, other):
            return True
    return torch.ones(2).as_subclass(Rigged)

def make_module():
    return torch.nn.Linear(2, 3)

def add(a, b):
    return a + b
"""


@pytest.fixture(scope="module")
def student():
    limits = Limits(call_seconds=5, program_seconds=10, submission_seconds=60, output_bytes=1000)
    with Sandbox([{"id": "probes", "source": PROBES}], limits, assignments.hidden_paths(),
                 [assignments.COURSE_DIR]) as sandbox:
        yield Student(sandbox, {})


def test_tensors_round_trip_with_dtype_and_gradients(student):
    a = torch.arange(6, dtype=torch.float64).reshape(2, 3).requires_grad_()
    run = student.run("add", a, torch.ones(2, 3, dtype=torch.float64), backward=torch.ones(2, 3))
    assert run.result.dtype == torch.float64 and plain_tensor(run.result)
    assert torch.equal(run.result, a.detach() + 1)
    assert torch.equal(run.input_grads[0], torch.ones(2, 3, dtype=torch.float64))
    assert run.input_grads[1] is None


def test_a_tensor_subclass_arrives_as_a_plain_tensor(student):
    out = student.subclass()
    assert type(out) is torch.Tensor and torch.equal(out, torch.ones(2))


def test_modules_stay_in_the_child_as_handles(student):
    linear = student.make_module()
    names = [p["name"] for p in linear.parameters()["parameters"]]
    assert names == ["weight", "bias"]
    linear.load({"weight": torch.zeros(3, 2), "bias": torch.ones(3)})
    assert torch.equal(linear(torch.ones(1, 2)), torch.ones(1, 3))


@pytest.mark.skipif(os.geteuid() != 0, reason="a separate uid needs root")
def test_child_runs_as_an_unprivileged_uid(student):
    assert student.uid() >= 61000


def test_hidden_paths_are_empty_and_course_is_read_only(student):
    assert student.listing(str(assignments.SUITES)) in ([], None)
    assert student.listing(str(assignments.SOLUTIONS)) in ([], None)
    assert student.write(str(assignments.COURSE_DIR / "grader" / "pwned.py")) != "written"
    assert "from_program.txt" in student.listing("/tmp/work")
    assert student.write("/tmp/work/scratch.txt") != "written"  # a check leaves nothing for the next


def test_a_course_under_tmp_is_not_visible_at_all(tmp_path):
    """The sandbox sees an allow-list, wherever the course or a classmate's notebook lives."""
    course = tmp_path / "course"
    (course / "submitted" / "bob").mkdir(parents=True)
    (course / "submitted" / "bob" / "a1.ipynb").write_text("bob's answers")
    with Sandbox([{"id": "probes", "source": PROBES}], Limits(), [], [course]) as sandbox:
        probe = Student(sandbox, {})
        assert probe.listing(str(course)) is None and probe.listing(str(tmp_path)) is None
        assert set(probe.listing(str(assignments.COURSE_DIR)) or []) <= {"grader", ".venv"}  # the code it runs


def test_no_network(student):
    assert student.connect("127.0.0.1", 22) != "connected"
    assert student.connect("1.1.1.1", 80) != "connected"


def test_output_is_truncated(student):
    student.shout(100_000)
    sandbox = student._sandbox
    assert len(sandbox.stdout.kept) <= 1000


def test_student_code_creates_no_process_and_none_outlives_the_sandbox():
    with Sandbox([{"id": "probes", "source": PROBES}], Limits()) as sandbox:
        assert Student(sandbox, {}).spawn_sleepers(5) in ("PermissionError", "Refused")
        uid = sandbox._executed.uid_lease.uid
    deadline = time.monotonic() + 5
    while _processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes_of(uid)


def _processes_of(uid):
    uids = subprocess.run(["ps", "-eo", "uid="], capture_output=True, text=True).stdout.split()
    return [u for u in uids if int(u) == uid]


def test_missing_name_says_so():
    with Sandbox([{"id": "corr2d", "source": "def corr2d(:\n    pass"}], Limits()) as sandbox:
        with pytest.raises(StudentError) as error:
            Student(sandbox, {}).corr2d(1)
    assert "does not define `corr2d`" in str(error.value) and "SyntaxError" in str(error.value)


def test_wire_refuses_what_is_not_data():
    with pytest.raises(TypeError):
        wire.encode(object(), {})
    with pytest.raises(wire.WireError):
        wire.decode({"__tensor__": "t9"}, {})
    with pytest.raises(wire.WireError):
        wire.decode({"__pickle__": "gASV"}, {})
    with pytest.raises(wire.WireError):
        wire.checked_device({"device": "meta"})


def test_a_request_too_big_for_the_sandbox_is_the_graders_fault_not_a_crash(student):
    """The grader's own message over what the sandbox reads: not sent, and never reported as
    the student's process dying; the check's process goes on answering."""
    from grader.engine.sandbox import SandboxFailure

    sandbox = student._sandbox
    with pytest.raises(SandboxFailure) as refused:
        sandbox.request("call", {"target": "add", "args": [list(range(300_000)), [1]]})
    assert refused.value.kind == "grader" and "not a fault of your notebook" in str(refused.value)
    assert "died" not in str(refused.value)
    assert student.add(2, 3) == 5
