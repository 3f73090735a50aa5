"""Round-2 attacks on the sandbox's kernel and in-process confinement, through grade().

Each attack is the corr2d answer cell of a1 (the rest of the notebook left as the released
stubs) that tries one class of issue 11 this layer answers: residue left in SysV IPC or in
world-writable directories for a later grading, a classmate's notebook read from the
course's submitted/ folder, forks that multiply the memory limit, frame and heap
introspection, ctypes, and importing the grader's own modules. Each is asserted to earn
nothing (the stub earns 0), to finish within its budget, and to leave no process of a
sandbox uid, no file and no IPC object; the next honest submission still grades full marks
in the same warm process.

The sandbox's processes are the student's: introspection, ctypes and the grader's modules are
theirs to use there (honest libraries need the first two), and using them to rewire the
engine earns nothing, because every verdict is made on the trusted side. Attacks print a
marker when they get through a step the kernel must refuse; such a marker in the result's
stdout is a breach. About 60 s (four gradings).
"""

import os
import subprocess
import threading
import time
import uuid

import pytest

from grader.course.assignments import COURSE_DIR
from grader.engine.grading import grade, warm_up
from grader.engine.sandbox import Limits, UidLease, Zygote
from submissions import dumps, make_submission

A1 = "a1_cross_correlation"
LIMITS = Limits(call_seconds=3, program_seconds=8, submission_seconds=30, memory_bytes=1 << 30)
WALL_CLOCK_ALLOWANCE = LIMITS.submission_seconds + 15
TOKEN = uuid.uuid4().hex[:10]
IPC_KEY = 0x5EC0DE
STUB = "\ndef corr2d(X, K):\n    raise NotImplementedError()\n"

LEAVE_IPC = f"""
import ctypes, sysconfig
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget({IPC_KEY}, 1 << 20, 0o1666)
if shmid >= 0:
    address = libc.shmat(shmid, None, 0)
    if address not in (None, ctypes.c_void_p(-1).value):
        ctypes.memmove(address, b"{TOKEN}", 10)
        print("IPC_LEFT")
"""
FIND_IPC = f"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget({IPC_KEY}, 0, 0)
if shmid >= 0:
    address = libc.shmat(shmid, None, 0)
    if address not in (None, ctypes.c_void_p(-1).value) and ctypes.string_at(address, 10) == b"{TOKEN}":
        print("FOUND_EARLIER_GRADING")
"""
WRITABLE_DIRS = ("/run/lock", "/var/tmp", "/dev/shm", "/tmp", "/run", "/var/lock", "/dev/mqueue")
LEAVE_FILES = f"""
import os
for d in {WRITABLE_DIRS!r}:
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "{TOKEN}"), "wb") as f:
            f.write(b"x" * (48 << 20))
        print("FILE_LEFT", d)
    except OSError:
        pass
"""
FIND_FILES = f"""
import os
for d in {WRITABLE_DIRS!r}:
    if os.path.exists(os.path.join(d, "{TOKEN}")):
        print("FOUND_EARLIER_GRADING", d)
"""
COPY_CLASSMATE = """
import json, os
def find_notebooks():
    for top in [COURSE, os.path.dirname(COURSE), "/work", "/tmp", "/srv", "/home", "/root", "/data", "/mnt"]:
        for dirpath, dirnames, files in os.walk(top):
            dirnames[:] = [d for d in dirnames if d not in ("proc", "sys", "site-packages", "dist-packages", "lib", "usr")]
            for name in files:
                if name.endswith(".ipynb") and "submitted" in dirpath:
                    yield os.path.join(dirpath, name)
for path in find_notebooks():
    try:
        cells = json.load(open(path))["cells"]
    except (OSError, ValueError):
        continue
    for cell in cells:
        source = "".join(cell.get("source", ""))
        if "def corr2d" in source and "NotImplementedError" not in source:
            exec(source)
            print("COPIED", path)
            break
""".replace("COURSE", repr(str(COURSE_DIR)))
FORK_FOR_MEMORY = """
import os, time
for _ in range(4):
    try:
        if os.fork() == 0:
            hold = bytearray(600 << 20)
            for i in range(0, len(hold), 4096):
                hold[i] = 1
            time.sleep(60)
            os._exit(0)
    except OSError:
        pass
time.sleep(4)
# Still alive with four helpers of 600 MiB each: the submission held over twice its budget.
print("FORKED_AND_HELD", flush=True)
"""
INTROSPECT = """
import sys, gc
# the engine's own object, rewired: every call of every check now answers True
for engine in [o for o in gc.get_objects() if type(o).__name__ == "Child"]:
    engine.op_call = lambda *args, **kwargs: {"result": True, "ops": [], "args_after": []}
    print("ENGINE_REWIRED", flush=True)  # flushed: the watchdog may end the program with SIGKILL
try:
    frame = sys._getframe(1)
    print("FRAMES_OK", frame.f_code.co_filename)
except Exception:
    pass
try:
    print("GC_OK", len(gc.get_objects()))
except Exception:
    pass
try:
    raise ValueError
except ValueError as error:
    try:
        print("TB_FRAME_OK", error.__traceback__.tb_frame.f_back)
    except Exception:
        pass
"""
CTYPES = """
for attempt in ("import ctypes; ctypes.CDLL(None).getpid()",
                "import numpy.ctypeslib; numpy.ctypeslib.ctypes.CDLL(None).getpid()"):
    try:
        exec(attempt)
        print("CTYPES_OK")
    except Exception:
        pass
"""
IMPORT_GRADER = """
for attempt in ("import grader.wire", "from grader.untrusted import child", "import grader.engine.sandbox"):
    try:
        exec(attempt)
        print("GRADER_IMPORTED", attempt)
    except Exception:
        pass
import sys
print("GRADER_MODULES" if any(m.startswith("grader") for m in sys.modules) else "")
"""

ATTACKS = {
    "sysv_ipc_and_files_left_for_a_later_grading": (LEAVE_IPC + LEAVE_FILES, FIND_IPC + FIND_FILES),
    "classmate_notebook_in_submitted": (COPY_CLASSMATE, None),
}
ENGINE_ATTACKS = {
    "fork_to_multiply_memory": FORK_FOR_MEMORY,
    "frame_and_heap_introspection": INTROSPECT,
    "ctypes": CTYPES,
    "import_grader_modules": IMPORT_GRADER,
}
BREACHES = ("FOUND_EARLIER_GRADING", "COPIED", "FORKED_AND_HELD")


@pytest.fixture(scope="module", autouse=True)
def warm_grader():
    """The zygote's start (torch and the suites imported once) is not an attack's time."""
    warm_up()


@pytest.fixture(scope="module")
def classmate():
    """A classmate's full-marks notebook where README puts submissions: <course>/submitted/<student>/."""
    folder = COURSE_DIR / "submitted" / f"classmate-{TOKEN}"
    folder.mkdir(parents=True)
    (folder / f"{A1}.ipynb").write_bytes(make_submission(A1))
    yield folder
    (folder / f"{A1}.ipynb").unlink()
    folder.rmdir()
    if not any((COURSE_DIR / "submitted").iterdir()):
        (COURSE_DIR / "submitted").rmdir()


def sandbox_processes():
    """Processes left under this test's zygote (other graders may share the machine's uid range)."""
    rows = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.splitlines()
    children = {}
    for row in rows:
        pid, ppid = map(int, row.split())
        children.setdefault(ppid, []).append(pid)
    left, todo = [], list(children.get(Zygote.shared().process.pid, []))
    while todo:
        pid = todo.pop()
        left.append(pid)
        todo.extend(children.get(pid, []))
    return left


def sandbox_ipc_objects():
    """SysV objects under the attack's key, in the host's IPC namespace."""
    listing = subprocess.run(["ipcs", "-a"], capture_output=True, text=True).stdout.lower()
    return [line for line in listing.splitlines() if f"{IPC_KEY:#010x}" in line]


class MemoryWatch:
    """Peak memory (PSS) of all sandbox-uid processes together, sampled while grading."""

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        while not self._stop.wait(0.1):
            total = 0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    status = open(f"/proc/{pid}/status").read()
                except OSError:
                    continue
                uid = int(status.split("Uid:")[1].split()[0])
                if UidLease.FIRST_UID <= uid < UidLease.FIRST_UID + UidLease.COUNT:
                    total += _pss(pid)
            self.peak = max(self.peak, total)


def _pss(pid):
    """What a process holds, a page shared between k processes counted 1/k times: the program
    may fork (grader.engine.containment holds the submission as a whole), and RSS would count every
    page a fork shares with the warm template once per process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return sum(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
    except OSError:
        return 0


def graded(source):
    started = time.monotonic()
    with MemoryWatch() as memory:
        result = grade(make_submission(A1, {"corr2d": source + STUB}, reference=False), A1, limits=LIMITS)
    return result, time.monotonic() - started, memory.peak


def assert_nothing_gained_or_left(result, seconds, earned=0.0):
    assert result["score"] <= earned, dumps(result)
    assert seconds < WALL_CLOCK_ALLOWANCE
    stdout = result.get("stdout", "")
    assert not any(marker in stdout for marker in BREACHES), stdout[-2000:]
    deadline = time.monotonic() + 5
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_processes() == []
    assert sandbox_ipc_objects() == []
    for d in WRITABLE_DIRS:
        assert not os.path.exists(os.path.join(d, TOKEN)), d


@pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids and namespaces need root")
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_keeps_nothing_and_reaches_no_classmate(name, classmate):
    leave, find = ATTACKS[name]
    result, seconds, _ = graded(leave)
    assert_nothing_gained_or_left(result, seconds)
    if find is not None:
        later, seconds, _ = graded(find)
        assert_nothing_gained_or_left(later, seconds)


@pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids and namespaces need root")
def test_in_process_attacks_gain_nothing():
    """The four in-process classes in one notebook (one grading, for CI time). Introspection,
    ctypes and the grader's modules are within reach and used (the engine is found and
    rewired to answer True to every call); that earns no more than answers that plainly
    return True, nothing is left behind, and no fork holds memory."""
    source = "\n".join(f"try:\n    exec({attack!r})\nexcept BaseException:\n    pass"
                       for attack in ENGINE_ATTACKS.values())
    result, seconds, peak = graded(source)
    plainly_true = grade(make_submission(A1, {name: f"{name} = lambda *args, **kwargs: True\n"
                                              for name in ("corr2d", "Conv2D", "learn_edge_kernel")},
                                          reference=False), A1, limits=LIMITS)
    assert_nothing_gained_or_left(result, seconds, earned=plainly_true["score"])
    ended_by_budget = any("of memory in total across its processes" in t["output"] for t in result["tests"])
    # the attack reached the engine, unless its fork attack ended the whole program first
    assert ended_by_budget or "ENGINE_REWIRED" in result["stdout"], result["stdout"][-500:]
    # The watchdog (grader.engine.containment) ends a submission over its 1 GiB across all its processes.
    assert peak < LIMITS.memory_bytes + (768 << 20), peak


def test_next_honest_submission_still_full_marks():
    assert Zygote.shared().process.poll() is None
    result = grade(make_submission(A1), A1)
    assert result["score"] == result["max_score"] > 0, dumps(result)
    assert "sandbox_weakened" not in result or os.geteuid() != 0, result.get("sandbox_weakened")
