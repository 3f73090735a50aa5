"""Limits that hold for the submission as a whole, from outside its processes.

Every process in the sandbox belongs to the student: E, each check's process, whatever they
fork. These tests attack with what a student who read the grader would use (os.fork, raw
system calls through ctypes) and judge only from outside: /proc, the machine's free memory,
the result. Needs root (a uid of its own, namespaces); CI runs as root.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from grader.engine import containment
from grader.engine.grading import grade
from grader.engine.sandbox import Limits, Sandbox, SandboxFailure
from grader.engine.zygote_launcher import start_early
from submissions import make_submission

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's namespaces and uid need root")

MiB = 1 << 20
A1 = "a1_cross_correlation"
BUDGET = 512 * MiB
LIMITS = Limits(call_seconds=10, program_seconds=40, submission_seconds=90, memory_bytes=BUDGET)

# A busy background thread left running by a correct notebook: every fork of E happens while
# it may be waiting for (or holding) the interpreter lock.
BUSY_THREAD = """
import threading, time, torch
def _keep_busy():
    recent = []
    while True:
        recent.append(torch.randn(64, 64) @ torch.randn(64, 64))
        recent = recent[-50:]
        time.sleep(0.005)
threading.Thread(target=_keep_busy, daemon=True).start()
"""

# More than the budget through every door at once: forked helpers each under RLIMIT_DATA but
# together over the budget, copy-on-write pages they all dirty, memfds (raw syscall), and
# a million empty files on the tmpfs. Each step prints what it got, for the assertions.
ATTACK = """
import os, time
try:  # the raw syscall, as a student who read the filter would try it
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(319, b"hold", 0)  # memfd_create
    print("MEMFD", fd if fd >= 0 else -ctypes.get_errno(), flush=True)
except (ImportError, PermissionError):  # where the sandbox refuses importing ctypes
    try:
        print("MEMFD", os.memfd_create("hold"), flush=True)
    except OSError as error:
        print("MEMFD", -error.errno, flush=True)
os.makedirs("/tmp/inodes", exist_ok=True)
made = 0
try:
    while made < 1_000_000:
        os.close(os.open(f"/tmp/inodes/{made}", os.O_CREAT | os.O_WRONLY, 0o600))
        made += 1
except OSError as error:
    print("INODES", made, error.errno, flush=True)
def touched(size, value):
    block = bytearray(size)
    block[::4096] = value * (size // 4096)           # one byte per page: every page resident
    return block
shared = touched(200 << 20, b"\\1")                 # E's own, then copied on write by each helper
for _ in range(6):
    if os.fork() == 0:
        shared[::4096] = b"\\2" * (len(shared) // 4096)  # every page now private to this helper
        extra = touched(150 << 20, b"\\3")           # and fresh memory, under its RLIMIT_DATA
        time.sleep(60)
        os._exit(0)
time.sleep(60)
"""


@pytest.fixture(scope="module", autouse=True)
def warm():
    start_early()
    with Sandbox([{"id": "warm", "source": "x = 1"}], LIMITS) as sandbox:
        sandbox.ensure_started()


class MemAvailable:
    """The machine's MemAvailable, sampled every 20 ms while the block runs, from a start
    taken once it has stopped rising (an earlier test's processes may still be freeing
    their memory, which would hide as much of the drop)."""

    def __init__(self):
        self.before = self.settled()
        self.lowest = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def read():
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024

    @classmethod
    def settled(cls, seconds=5):
        deadline, now = time.monotonic() + seconds, cls.read()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            before, now = now, cls.read()
            if now - before < 16 * MiB:
                break
        return now

    def _sample(self):
        while not self._stop.wait(0.02):
            self.lowest = min(self.lowest, self.read())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def drop(self):
        return self.before - self.lowest


def run_program(source, limits=LIMITS):
    """Run `source` as the program and ask one call; returns (failure or None, sandbox)."""
    sandbox = Sandbox([{"id": "attack", "source": source}], limits)
    try:
        sandbox.request("call", {"target": "print", "args": ["checked"]})
    except SandboxFailure as failure:
        return failure, sandbox
    finally:
        print(sandbox.stdout.text()[-1000:], sandbox.stderr.text()[-2000:])
    return None, sandbox


def test_memory_over_the_budget_ends_the_submission_not_the_machine():
    with MemAvailable() as memory:
        started = time.monotonic()
        failure, sandbox = run_program(ATTACK)
        seconds = time.monotonic() - started
    sandbox.close()
    printed = sandbox.stdout.text()
    assert "MEMFD -1" in printed, printed  # EPERM: a memfd would hold memory outside every limit
    made = int(printed.split("INODES ")[1].split()[0])
    assert made < 5000, printed  # the tmpfs inode cap (28 = ENOSPC), not a million files
    assert failure is not None and failure.kind == "budget", failure
    assert "more than 512 MiB of memory in total across its processes" in str(failure)
    assert seconds < 30, "ended by the watchdog, not by the program's time limit"
    # Six helpers would hold 6 x 350 MiB (over 2 GiB); the slack covers the watchdog's
    # 50 ms between looks and what other work on the machine does meanwhile.
    assert memory.drop < BUDGET + 512 * MiB, memory.drop / MiB


def test_without_the_budget_the_same_attack_holds_gigabytes():
    """The same program under a budget it cannot reach: the helpers really hold what the
    watchdog stopped above (so the test above can fail)."""
    limits = Limits(call_seconds=10, program_seconds=15, submission_seconds=60, memory_bytes=8 << 30)
    with MemAvailable() as memory:
        failure, sandbox = run_program(ATTACK, limits)
    sandbox.close()
    assert failure is not None and failure.kind in ("timeout", "crash"), failure  # the program's 15 s
    assert memory.drop > 1536 * MiB, memory.drop / MiB


class _Listed:
    """The processes a MemoryWatch looks at, named outright (no sandbox around them)."""

    def __init__(self, *pids):
        self.pids = list(pids)

    def members(self):
        return list(self.pids)


def _forked(body):
    """A child process that runs `body(go)` once the test writes a byte to `go`; its pid and
    the writing end."""
    ready, go = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        go.close()
        try:
            body(ready)
        finally:
            os._exit(0)
    ready.close()
    return pid, go


def _write_pages(buffer, pace):
    """Write one byte in every page of `buffer`, `pace` bytes of pages each millisecond."""
    started = time.monotonic()
    for begun in range(0, len(buffer), 1 << 20):
        buffer[begun:begun + (1 << 20):4096] = b"b" * 256
        ahead = (begun + (1 << 20)) / pace / 1000 - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)


def _charged_when_a_copy_writes_its_parent_s_pages():
    """E holds 1 GiB (its base, as the sandbox's E's imports are), then forks a copy that
    writes its own copy of every page at 1 GiB a second, under a 512 MiB budget: what the
    watch charged when it ended them (None if it never did)."""
    tripped = []

    def e_and_copy(go):
        ballast = bytearray(b"a") * (1 << 30)
        go.send(b"held")
        go.recv(1)
        copy = os.fork()
        if copy == 0:
            go.recv(1)
            _write_pages(ballast, pace=1 << 20)
            time.sleep(60)
            os._exit(0)
        go.send(copy.to_bytes(4, "little"))
        time.sleep(60)

    e_pid, go = _forked(e_and_copy)
    copy_pid = None
    try:
        assert go.recv(4) == b"held"
        listed = _Listed(e_pid)
        watch = containment.MemoryWatch(listed, e_pid, BUDGET, tripped.append, held=lambda: set(listed.pids))
        go.send(b"x")
        copy_pid = int.from_bytes(go.recv(4), "little")
        listed.pids.append(copy_pid)
        go.send(b"x")
        deadline = time.monotonic() + 20
        while not tripped and time.monotonic() < deadline:
            time.sleep(0.01)
        watch.close()
    finally:
        for pid in (e_pid, copy_pid):
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
        os.waitpid(e_pid, 0)
    return tripped[0] if tripped else None


def test_a_copy_that_writes_its_parent_s_pages_is_stopped_near_the_budget():
    """The copy's RSS never changes as it writes, so only its page faults or a walk of the
    page tables see its pages: the watch ends it with less than 96 MiB more than the budget
    (about 60 here: a look at the fault counters every 10 ms near the budget, then one walk),
    three times out of three. A watch that walks every 250 ms whenever the processes' RSS
    passes the budget (which E and its copy's do from the start) lets it copy up to a quarter
    of a GiB more before it looks again: it charged 667 to 786 MiB."""
    charged = [_charged_when_a_copy_writes_its_parent_s_pages() for _ in range(3)]
    assert None not in charged, f"the copy's gigabyte was never charged: {charged}"
    assert max(charged) < BUDGET + 96 * MiB, f"charged {[round(c / MiB) for c in charged]} MiB when stopped"


# Pages a process gets without touching them: each still a page fault of its own, which is
# what the memory watch charges (containment._faults). 16 MiB each way, in a child process.
FILLED_WITHOUT_TOUCHING = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
SIZE, PRIVATE_ANONYMOUS, MAP_POPULATE, MADV_POPULATE_WRITE = 16 << 20, 0x22, 0x8000, 23
def faults():
    return int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[7])
def area(flags=0):
    return libc.mmap(None, SIZE, 3, PRIVATE_ANONYMOUS | flags, -1, 0)
ways = {
    "MAP_POPULATE": lambda: area(MAP_POPULATE),
    "MADV_POPULATE_WRITE": lambda: libc.madvise(ctypes.c_void_p(area()), SIZE, MADV_POPULATE_WRITE),
    "mlock": lambda: libc.mlock(ctypes.c_void_p(area()), ctypes.c_size_t(SIZE)),
    "read() into it": lambda: libc.read(os.open("/dev/zero", os.O_RDONLY), ctypes.c_void_p(area()),
                                        ctypes.c_size_t(SIZE)),
}
for way, fill in ways.items():
    before = faults()
    fill()
    print(way, faults() - before)
"""


def test_pages_filled_without_touching_them_are_page_faults_too():
    """The kernel fills them for the process (MAP_POPULATE, MADV_POPULATE_WRITE, mlock, a
    read() into a fresh buffer): each of their 4 KiB pages is still counted as its page fault."""
    printed = subprocess.run([sys.executable, "-c", FILLED_WITHOUT_TOUCHING], capture_output=True,
                             text=True, timeout=60, check=True).stdout
    counted = {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in printed.splitlines()}
    pages = (16 << 20) // 4096
    assert len(counted) == 4 and all(faults >= pages for faults in counted.values()), counted


def test_pages_mapped_and_freed_again_are_not_charged():
    """A process that holds 128 MiB and maps, fills and frees 64 MiB thirty times (2 GiB of
    page faults, as honest code that makes and drops large tensors does) under a 512 MiB
    budget: the fault bound passes the budget every 320 MiB or so of faults, the walk it
    then asks for finds about 200 MiB, and the process is not ended."""
    tripped = []

    def churn(go):
        import mmap
        kept = bytearray(b"k") * (128 << 20)  # noqa: F841  (held while it churns)
        go.recv(1)
        for _ in range(30):
            area = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            _write_pages(area, pace=1 << 30)
            area.close()
        go.send(b"done")
        time.sleep(60)

    pid, go = _forked(churn)
    try:
        time.sleep(0.5)  # its 128 MiB, before the watch takes E's start as the base
        watch = containment.MemoryWatch(_Listed(pid), pid, BUDGET, tripped.append)
        go.send(b"x")
        go.settimeout(60)
        assert go.recv(4) == b"done"
        watch.check()
        watch.close()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert not tripped, f"ended at {tripped[0] / MiB:.0f} MiB"
    assert 1 <= watch.walks <= 15, f"{watch.walks} walks of the page tables for 2 GiB of faults"


HELPERS = """
import multiprocessing, os, time
if os.fork() == 0:
    time.sleep(600)
    os._exit(0)
multiprocessing.Process(target=time.sleep, args=(600,), daemon=False).start()
def ping():
    return "pong"
"""


def test_helpers_the_program_forked_are_gone_before_the_first_check():
    with Sandbox([{"id": "helpers", "source": HELPERS}], LIMITS) as sandbox:
        reply = sandbox.request("call", {"target": "ping"})
        assert reply["value"]["result"] == "pong"
        e_pid, check_pid = sandbox._executed.peer.pid, sandbox._check.peer.pid
        running = {pid for pid in containment.Namespace(e_pid).members() if not containment._zombie(pid)}
        spares = {spare.peer.pid for spare in sandbox._spares}  # forked by E for the next checks, stopped
        assert running == {e_pid, check_pid} | spares, running
        assert any("2 processes your notebook started were still running" in note for note in sandbox.notes), sandbox.notes


def _states(pid):
    return {containment._state(pid, tid) for tid in containment._tasks(pid)}


def test_e_is_stopped_while_a_check_runs_and_may_not_be_resumed():
    program = BUSY_THREAD + "\ndef slow():\n    import time\n    time.sleep(0.5)\n    return 1\n"
    with Sandbox([{"id": "busy", "source": program}], LIMITS) as sandbox:
        sandbox.ensure_started()
        e_pid = sandbox._executed.peer.pid
        seen = []
        check = threading.Thread(target=lambda: seen.append(sandbox.request("call", {"target": "slow"})))
        check.start()
        time.sleep(0.25)
        during = _states(e_pid)
        spare_states = set().union(*(_states(spare.peer.pid) for spare in sandbox._spares))
        check.join()
        assert seen and seen[0]["ok"], seen
        assert during == {"T"}, f"E (and its busy thread) stopped while the check ran: {during}"
        assert spare_states <= {"T"}, spare_states
        # Another process of the uid resumes E while a check runs: found before E runs again.
        os.kill(e_pid, signal.SIGCONT)
        time.sleep(0.05)
        sandbox.new_check()
        with pytest.raises(SandboxFailure) as ended:
            sandbox.request("call", {"target": "slow"})
        assert "ran while the grader had stopped it" in str(ended.value)


def test_a_stopped_process_that_ran_is_found():
    """The detector on its own: a process stopped, resumed by someone else, stopped again."""
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        ours.close()
        while theirs.recv(1):
            pass
        os._exit(0)
    try:
        record = containment.stop(pid)
        assert containment.ran_since(pid, record) is None
        os.kill(pid, signal.SIGCONT)
        ours.send(b"x")  # give it something to run for
        time.sleep(0.05)
        containment.stop(pid)
        assert containment.ran_since(pid, record) is not None
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_the_thread_notebook_gets_full_marks_every_time(monkeypatch):
    """A correct notebook that leaves a busy thread running: every check's fork happens while
    that thread may hold or wait for the interpreter lock (it scored 3 to 11 of 31). E then
    forks one check process at a time, never a burst (a copy forked while the thread holds
    a lock of torch's would wait for it forever)."""
    bursts, burst = [], Sandbox._burst
    monkeypatch.setattr(Sandbox, "_burst", lambda self: bursts.append(burst(self)) or bursts[-1])
    data = make_submission(A1, added=[("before", "corr2d", BUSY_THREAD)])
    for seed in (1, 2, 3):
        result = grade(data, A1, seed=seed)
        assert set(bursts) == {1}, bursts
        assert result["score"] == result["max_score"] > 0, [
            (t["name"], t["output"][:200]) for t in result["tests"] if t["status"] != "passed"]
        assert not any("still running" in note for note in result.get("notes", [])), result["notes"]


# A thread that spends nearly all its time inside torch's random generator, holding its lock
# without the interpreter lock: a copy of E forked at such an instant used to wait for ever
# when it seeded (4 of 30 points, every other check "no answer within 10 s").
HOT_GENERATOR_THREAD = """
import threading, torch
def _draw_for_ever():
    while True:
        torch.randn(256, 256)
threading.Thread(target=_draw_for_ever, daemon=True).start()
"""


def test_a_thread_inside_torch_s_generator_at_every_fork_costs_no_check():
    """E's forking thread waits for the generators' locks before it forks, and a copy that
    still waits for ever for one is killed and forked again (Sandbox._hellos): full marks, and
    no note about a process left running."""
    data = make_submission(A1, added=[("before", "corr2d", HOT_GENERATOR_THREAD)])
    for seed in (1, 2):
        result = grade(data, A1, seed=seed)
        assert result["score"] == result["max_score"] > 0, [
            (t["name"], t["output"][:200]) for t in result["tests"] if t["status"] != "passed"]
        assert not any("still running" in note for note in result.get("notes", [])), result["notes"]


def _child(work):
    pid = os.fork()
    if pid == 0:
        try:
            work()
        finally:
            os._exit(0)
    return pid


def test_a_process_that_waits_for_a_lock_no_thread_of_it_can_release_is_told_from_other_waits():
    """`waits_for_ever`: one thread, waiting on a futex of its own memory with no timeout."""
    lock = threading.Lock()
    lock.acquire()
    stuck = _child(lock.acquire)  # its copy of the lock is held by no thread of its own
    lock.release()
    timed = _child(_timed_wait)
    sleeping = _child(lambda: time.sleep(30))
    two_threads = _child(_two_threads_waiting)
    try:
        time.sleep(0.3)
        assert containment.waits_for_ever(stuck)
        assert not containment.waits_for_ever(timed)
        assert not containment.waits_for_ever(sleeping)
        assert not containment.waits_for_ever(two_threads)
        assert not containment.waits_for_ever(os.getpid())
    finally:
        for pid in (stuck, timed, sleeping, two_threads):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _timed_wait():
    blocked = threading.Lock()
    blocked.acquire()
    blocked.acquire(timeout=30)


def _two_threads_waiting():
    blocked = threading.Lock()
    blocked.acquire()
    threading.Thread(target=lambda: time.sleep(30), daemon=True).start()
    blocked.acquire()


DATALOADER = """
import torch
from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=2, num_workers=2)
print(sum(batch[0].sum().item() for batch in loader))
"""


def test_a_dataloader_with_workers_fails_only_its_own_cell():
    """Worker processes share memory (MAP_SHARED), which the program filter refuses so that
    nothing shared can carry state from one check to the next: that demo cell fails with a
    note naming it; the rest of the notebook is graded in full."""
    data = make_submission(A1, added=[("after", "corr2d", DATALOADER)])
    result = grade(data, A1, seed=4)
    assert result["score"] == result["max_score"] > 0, result["tests"]
    notes = result.get("notes", [])
    assert any("Operation not permitted" in note and "cell" in note for note in notes), notes
    assert not any("still running" in note for note in notes), notes  # no process to sweep


def _spin_threads(count):
    """A child whose `count` threads all run (a GIL-free spin: os.urandom in a loop releases it)."""
    pid = os.fork()
    if pid == 0:
        for _ in range(count - 1):
            threading.Thread(target=lambda: [os.urandom(64) for _ in iter(int, 1)], daemon=True).start()
        while True:
            os.urandom(64)
    return pid


def test_a_stopped_process_s_record_is_final_when_stop_returns():
    """A thread shows 'T' a moment before it leaves its CPU's run queue, and on a loaded
    machine it may be put on a CPU once more to finish stopping: recorded then, it would look
    resumed later, and an honest notebook would be ended for "ran while stopped". `stop()`
    returns only once every thread is off the run queue (or the records have settled), so a
    record taken while other processes load every CPU never changes until it is resumed."""
    hogs = [_spin_threads(1) for _ in range(os.cpu_count() or 2)]
    pid = _spin_threads(3)
    changed = 0
    try:
        time.sleep(0.2)
        for _ in range(150):
            record = containment.stop(pid)
            time.sleep(0.01)
            changed += containment.ran_since(pid, record) is not None
            containment.resume(pid)
            time.sleep(0.002)
    finally:
        for child in (pid, *hogs):
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
    assert changed == 0, f"{changed} of 150 records changed while the process stayed stopped"


def test_a_kernel_whose_wchan_says_nothing_still_gets_its_processes_stopped(monkeypatch):
    """Where /proc's wchan names no place (a kernel that does not unwind), `stop()` settles the
    records after a short wait instead of failing every stop after STOP_WAIT_SECONDS, and the
    detector still finds a process that ran."""
    monkeypatch.setattr(containment, "_wchan", lambda pid, tid: "0")
    pid = _spin_threads(2)
    try:
        started = time.monotonic()
        record = containment.stop(pid)
        assert time.monotonic() - started < 1.0
        time.sleep(0.02)
        assert containment.ran_since(pid, record) is None
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.02)
        containment.stop(pid)
        assert containment.ran_since(pid, record) is not None
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
