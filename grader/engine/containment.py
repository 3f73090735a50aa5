"""The trusted side's hold on a submission's processes, from outside, through the kernel.

Every process in the sandbox belongs to the student: E (the executed program), each check
process C, the spare check process forked in advance, and whatever they fork or start.
Nothing here asks them anything; it reads /proc and sends signals:

* `Namespace.members()`: every process of the submission, i.e. of E's PID namespace (E is
  its init: whatever the program forks lives there, and an orphan is re-parented to E,
  never out).
* `stop()` / `resume()`: SIGSTOP and SIGCONT. The grader lets only the process it is
  talking to run; `stop()` returns once /proc shows every thread of the process stopped,
  and `ran_since()` tells, from the kernel's per-thread run time, whether a stopped
  process ran anyway (another process of the uid sent it SIGCONT).
* `sweep()`: kills every member the grader did not ask for (a helper the program forked).
* `MemoryWatch`: a thread that sums the memory of all members every `interval` seconds
  and calls back once the submission holds more than its budget.
"""

import os
import signal
import stat
import threading
import time

STOP_WAIT_SECONDS = 5.0  # a thread in uninterruptible sleep (a page fault on a slow disk) stops when it returns
_STOPPED_STATES = frozenset("TtZX")  # stopped, traced, or already gone: none of them runs


class Namespace:
    """E's PID namespace and those nested in it, whose processes are exactly the submission's."""

    def __init__(self, init_pid):
        self.link = os.readlink(f"/proc/{init_pid}/ns/pid")
        # The sandbox's own /proc (mounted in its namespaces) lists its members by their pids
        # there: a short listing that tells whether the membership changed since last time.
        self._own_proc = f"/proc/{init_pid}/root/proc"
        self._cached = (None, [])

    def members(self):
        """The pids (as the grader sees them) of every process in the namespace."""
        inside = self._inside()
        known, pids = self._cached
        if inside is not None and inside == known:
            return list(pids)
        links = self._nested(inside)
        pids = [pid for pid in _all_pids() if _namespace_of(pid) in links]
        self._cached = (inside, pids)
        return list(pids)

    def _nested(self, inside):
        """E's namespace and every one nested in it (each check process's, any the program
        made): the sandbox's own /proc lists every process of them, in E's numbering."""
        links = {self.link}
        for entry in inside or ():
            try:
                links.add(os.readlink(f"{self._own_proc}/{entry}/ns/pid"))
            except OSError:
                continue  # gone since the listing
        return links

    def _inside(self):
        try:
            return frozenset(e for e in os.listdir(self._own_proc) if e.isdigit())
        except OSError:
            return None  # no /proc of its own (the kernel refused namespaces)


def _all_pids():
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def _namespace_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None  # gone, or not ours to read


def _tasks(pid):
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def thread_count(pid):
    """How many threads the process has (0 when it is gone)."""
    return len(_tasks(pid))


def _state(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def _run_time(pid, tid):
    """Nanoseconds the thread has run (schedstat), or its context switches where there is none."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as schedstat:
            return int(schedstat.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/task/{tid}/status") as status:
            return sum(int(line.split()[1]) for line in status if "ctxt_switches:" in line)
    except (OSError, ValueError, IndexError):
        return None


class StopFailed(Exception):
    """A process did not stop in time."""


def stop(pid):
    """SIGSTOP `pid` and wait until every one of its threads is stopped; returns its
    threads' run times then (for `ran_since`). A process that is gone counts as stopped."""
    return stop_all([pid])[pid]


def stop_all(pids):
    """`stop()` for several processes at once (one wait for them all): pid -> run times.

    A thread shows 'T' as soon as it marks itself stopped, before it switches itself out; if
    it is preempted in between (a loaded machine), it waits on the run queue and runs a few
    microseconds more later, which `ran_since` would take for running while stopped. So a
    thread counts as stopped once it shows 'T' and has also made the voluntary context switch
    of the stop (its count has grown since the signal), or was stopped already."""
    before = {pid: {tid: (_state(pid, tid), _voluntary_switches(pid, tid)) for tid in _tasks(pid)} for pid in pids}
    for pid in pids:
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    started = time.monotonic()
    waiting = list(pids)
    while waiting:
        waiting = [pid for pid in waiting if not all(_switched_out(pid, tid, before[pid].get(tid)) for tid in _tasks(pid))]
        waited = time.monotonic() - started
        if waiting and waited > STOP_WAIT_SECONDS:
            raise StopFailed(f"process {waiting[0]} did not stop within {STOP_WAIT_SECONDS:.0f} s")
        if waiting:
            time.sleep(0 if waited < 0.002 else 0.0005)  # it usually takes ~0.2 ms
    tasks = {pid: _tasks(pid) for pid in pids}
    if all(_proved_still(before[pid].get(tid)) for pid, tids in tasks.items() for tid in tids):
        # each thread was stopped already, or has been switched out since the signal: the
        # kernel counted its run time at that switch, and it cannot change while stopped
        return {pid: {tid: _run_time(pid, tid) for tid in tids} for pid, tids in tasks.items()}
    return _settled_run_times(tasks)


def _switched_out(pid, tid, before):
    state = _state(pid, tid)
    if state in ("Z", "X"):
        return True
    if state not in _STOPPED_STATES:
        return False
    if before is None or before[0] in _STOPPED_STATES or before[1] is None:
        return True  # a thread started since, one stopped before the signal, or no count to read
    switches = _voluntary_switches(pid, tid)
    return switches is None or switches > before[1]


def _proved_still(before):
    """Whether `_switched_out` saw this thread stopped for good (not only 'T'): it was
    stopped before the signal, or its voluntary switch count was there to grow."""
    return before is not None and (before[0] in _STOPPED_STATES or before[1] is not None)


def _voluntary_switches(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/status") as status:
            for line in status:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _settled_run_times(tasks):
    """Each process's threads' run times once they stop changing (`tasks`: pid -> its thread
    ids): a thread shows 'T' as soon as it marks itself stopped, a few microseconds before it
    is switched out and its run time is counted."""
    def read():
        return {pid: {tid: _run_time(pid, tid) for tid in tids} for pid, tids in tasks.items()}
    times = read()
    for _ in range(20):
        time.sleep(0.0005)
        again = read()
        if again == times:
            break
        times = again
    return times


def ran_since(pid, record):
    """Whether a process stopped with `stop()` has run since (or started a thread)."""
    tids = _tasks(pid)
    if not tids:
        return False  # gone
    if set(tids) - set(record):
        return True
    return any(_state(pid, tid) not in _STOPPED_STATES or _run_time(pid, tid) != record[tid] for tid in tids)


def _zombie(pid):
    return _state(pid, pid) in ("Z", "X")


def resume(pid):
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def sweep(namespace, allowed, rounds=64):
    """Kill every process of `namespace` (a Namespace) not in `allowed`; returns how many.

    Repeated until none is left: a helper may fork while the sweep runs (RLIMIT_NPROC
    bounds how often). A zombie runs nothing and holds no memory: it is left to E to reap."""
    killed = set()
    for _ in range(rounds):
        strays = [pid for pid in namespace.members() if pid not in allowed and not _zombie(pid)]
        if not strays:
            return len(killed)
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            killed.add(pid)
        time.sleep(0.001)
    return len(killed)


def own_user_namespace(pid):
    """Whether `pid` has a user namespace other than this process's: the sandbox's, in which
    its program's process can give each check process namespaces of its own."""
    try:
        return os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    except OSError:
        return False


def shared_namespace(pid, program_pid):
    """Why check process `pid` does not stand alone (None when it does): it must be pid 1 of
    a PID namespace nested in the program's (a namespace's first process: no other process
    was ever in it, whatever its number, which the kernel reuses), in a mount namespace other
    than the program's. Read from outside: the engine's code in the sandbox that makes them
    is the student's to replace."""
    try:
        own, program = _nspid(pid), _nspid(program_pid)
        mounts = {os.readlink(f"/proc/{p}/ns/mnt") for p in (pid, program_pid)}
    except (OSError, StopIteration):
        return None  # gone: its death is reported where the grader next talks to it
    if len(own) <= len(program) or own[-1] != "1" or len(mounts) != 2:
        return "it was not made pid 1 of namespaces of its own"
    return None


def _nspid(pid):
    """A process's pid in each PID namespace it is in, outermost first."""
    with open(f"/proc/{pid}/status") as status:
        return next(line.split()[1:] for line in status if line.startswith("NSpid:"))


def sees_itself_alone(pid):
    """Whether the /proc a check process sees is its own namespace's: itself as pid 1, nothing else."""
    try:
        return {e for e in os.listdir(f"/proc/{pid}/root/proc") if e.isdigit()} == {"1"}
    except OSError:
        return True  # gone


def stray_descriptors(pid):
    """What a fresh check process holds beyond what it should (0-2 on /dev/null and the one
    socket it answers on): read from outside, so a check process that skipped the engine's
    `isolate_call` is caught before it runs a check. A pipe or socket inherited from E is
    the channel that matters: every later check's process inherits the same one."""
    stray = []
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []  # gone: its death is reported where the grader next talks to it
    sockets = 0
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if int(name) <= 2 and _is_null_device(f"/proc/{pid}/fd/{name}"):
            continue
        if target.startswith("socket:") and sockets == 0 and int(name) > 2:
            sockets += 1
            continue
        stray.append(f"{name} -> {target}")
    return stray


_NULL_DEVICE = os.stat("/dev/null").st_rdev


def _is_null_device(fd_path):
    """The null device, known by its device number: under a chroot (Docker refuses pivot_root)
    the link reads as a path below the sandbox's root, e.g. /tmp/xyz/dev/null."""
    try:
        info = os.stat(fd_path)
    except OSError:
        return False
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == _NULL_DEVICE


# -- memory ------------------------------------------------------------------------------

_CHEAP_FIELDS = ("RssAnon:", "RssShmem:", "VmSwap:", "VmPTE:")
_EXACT_FIELDS = ("Pss_Anon:", "Pss_Shmem:", "SwapPss:")
# Page tables are the kernel memory a process grows fastest without holding a page: one byte
# touched every 2 MiB of a read-only mapping costs a 4 KiB table and no RSS. They belong to
# each process alone (no fork shares them), so both measures count them whole.
_KERNEL_FIELDS = ("VmPTE:",)


def _fields(path, names):
    """Sum of the kB fields `names` in a /proc file, in bytes (None when the process is gone)."""
    total = 0
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(names):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return total


def upper_bound(pids):
    """Memory of the processes with every page shared between them counted once per process
    (RSS): never less than what they hold together, and cheap (/proc/PID/status)."""
    return sum(_fields(f"/proc/{pid}/status", _CHEAP_FIELDS) or 0 for pid in pids)


def exact(pids):
    """Memory of the processes with each page shared between k of them counted 1/k times
    (PSS: the sum is what they hold together). Costs a walk of each page table (milliseconds
    to tens of milliseconds per process), so `MemoryWatch` asks only when `upper_bound`
    says the budget may be exceeded."""
    return sum((_fields(f"/proc/{pid}/smaps_rollup", _EXACT_FIELDS) or 0)
               + (_fields(f"/proc/{pid}/status", _KERNEL_FIELDS) or 0) for pid in pids)


class MemoryWatch:
    """Sums the anonymous and shared memory (and swap) of every process of a submission,
    every `interval` seconds, above what E held when it started (its share of the warm
    template's pages); calls `over_budget(used)` once when that exceeds `budget`.

    Two measures. RSS summed over the processes is an upper bound (a page E shares with its
    check process counts twice) that costs microseconds. While any process runs that the
    grader did not ask for (`held()` names those it did: E and its check processes), that
    bound is the measure: a helper the program forked is charged all it maps, shared or not,
    and a swarm of helpers is stopped within one interval. Otherwise, when the bound exceeds
    the budget, PSS is read, which counts a page shared between k processes 1/k times (the
    sum is what they hold together) but costs a walk of each page table (milliseconds to
    tens of milliseconds per process), at most every `exact_interval`, and the submission
    is ended on that measure. Pages a copy-on-write fork dirties are private and counted
    either way; memfds are refused (the
    seccomp program filter), and the tmpfs has its own size and inode caps.
    """

    def __init__(self, namespace, first_pid, budget, over_budget, held=None, interval=0.05, exact_interval=0.25):
        self.namespace, self.budget, self.over_budget = namespace, budget, over_budget
        self.held = held or (lambda: {first_pid})
        self.interval, self.exact_interval = interval, exact_interval
        self.base_cheap = upper_bound([first_pid])
        self.base_exact = exact([first_pid])
        self.peak = 0
        self.tripped = False
        self._last_exact = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="convgrade-memory-watch", daemon=True)
        self._thread.start()

    def close(self):
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def check(self):
        """One measurement; returns the memory charged to the submission."""
        pids = [pid for pid in self.namespace.members() if not _zombie(pid)]
        used = upper_bound(pids) - self.base_cheap
        held = self.held()
        helpers = set() if held is None else set(pids) - held
        measured_exactly = False
        if used > self.budget and not helpers and time.monotonic() - self._last_exact >= self.exact_interval:
            used = exact(pids) - self.base_exact
            # timed from the end of the walk: over a GiB it takes longer than `interval`
            self._last_exact, measured_exactly = time.monotonic(), True
        self.peak = max(self.peak, used)
        if used > self.budget and (helpers or measured_exactly) and not self.tripped:
            self.tripped = True
            self.over_budget(used)
        return used

    def _watch(self):
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # noqa: BLE001  (a vanished process between two reads)
                continue
