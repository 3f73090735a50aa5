"""The trusted side's hold on a submission's processes, from outside, through the kernel.

Every process in the sandbox belongs to the student: E (the executed program), each check
process C, the spare check process forked in advance, and whatever they fork or start.
Nothing here asks them anything; it reads /proc and sends signals:

* `Namespace.members()`: every process of the submission, i.e. of E's PID namespace (E is
  its init: whatever the program forks lives there, and an orphan is re-parented to E,
  never out).
* `stop()` / `resume()`: SIGSTOP and SIGCONT. The grader lets only the process it is
  talking to run; `stop()` returns once /proc shows every thread of the process stopped,
  and `ran_since()` tells, from the kernel's count of each thread's turns on a CPU, whether a stopped
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

WCHAN_WAIT_SECONDS = 0.05  # a stopped thread leaves its run queue within ~0.3 ms on a loaded machine
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


def _stat(pid, tid):
    """The fields of a thread's /proc stat after its name (state first); [] when it is gone."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _state(pid, tid):
    fields = _stat(pid, tid)
    return fields[0] if fields else "X"


def _times_run(pid, tid):
    """How many times the kernel has put the thread on a CPU (schedstat's third field); where
    the kernel keeps no such count ("0 0 0"), its context switches (both kinds) instead.

    A count, not the run time: a thread that runs again after it was stopped is put on a CPU
    again, and nothing else moves the count, whereas its run time is added up when it leaves
    the CPU, which a record read a moment earlier would miss."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as schedstat:
            fields = schedstat.read().split()
        if fields[0] != "0":
            return int(fields[2])
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
    threads' records then (for `ran_since`). A process that is gone counts as stopped."""
    return stop_all([pid])[pid]


def stop_all(pids):
    """`stop()` for several processes at once (one wait for them all): pid -> {thread: record}.

    A thread shows 'T' as soon as it marks itself stopped, a moment before it leaves its
    CPU's run queue; preempted in between (a loaded machine), it is put on a CPU once more to
    finish stopping, which `ran_since` would take for running while stopped. The kernel
    shows where a thread waits (/proc/PID/task/TID/wchan) only once it is off the run queue,
    so a thread counts as stopped once it shows 'T' and a place it waits; from then on only
    SIGCONT or SIGKILL puts it on a CPU again. Where the grader may not read that (no
    CAP_SYS_PTRACE over the sandbox's processes), the records are read until they stop
    changing instead."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    started = time.monotonic()
    waiting, unproved, waited = list(pids), False, 0.0
    while waiting:
        still = []
        for pid in waiting:
            proofs = [_stopped_proof(pid, tid, waited < WCHAN_WAIT_SECONDS) for tid in _tasks(pid)]
            if None in proofs:
                still.append(pid)
            unproved |= "settle" in proofs
        waiting = still
        waited = time.monotonic() - started
        if waiting and waited > STOP_WAIT_SECONDS:
            raise StopFailed(f"process {waiting[0]} did not stop within {STOP_WAIT_SECONDS:.0f} s")
        if waiting:
            time.sleep(0 if waited < 0.002 else 0.0005)  # it usually takes ~0.2 ms
    tasks = {pid: _tasks(pid) for pid in pids}
    return _settled_records(tasks) if unproved else _records(tasks)


_WCHAN_FLAG = 32  # stat's field 35 (the name and the state are fields 2 and 3): 1 where the reader may see wchan


def _stopped_proof(pid, tid, patient=True):
    """None while the thread may still be put on a CPU; "final" once it cannot be before it
    is resumed (stopped and off the run queue, or exiting); "settle" when it shows 'T' but
    the kernel does not tell the grader whether it has left the run queue (or, no longer
    `patient`, still shows no place it waits: a kernel whose wchan says nothing)."""
    fields = _stat(pid, tid)
    state = fields[0] if fields else "X"
    if state in ("Z", "X"):
        return "final"  # exiting: it runs no code of the process any more
    if state not in _STOPPED_STATES:
        return None
    if len(fields) > _WCHAN_FLAG and fields[_WCHAN_FLAG] == "1":
        if _wchan(pid, tid) not in ("", "0"):
            return "final"
        return None if patient else "settle"
    return "settle"


def _wchan(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/wchan") as wchan:
            return wchan.read().strip()
    except OSError:
        return ""


def _records(tasks):
    return {pid: {tid: _times_run(pid, tid) for tid in tids} for pid, tids in tasks.items()}


def _settled_records(tasks):
    """`_records` once they stop changing (`tasks`: pid -> its thread ids): the wait where the
    kernel does not say whether a stopped thread has left its run queue."""
    records = _records(tasks)
    for _ in range(20):
        time.sleep(0.0005)
        again = _records(tasks)
        if again == records:
            break
        records = again
    return records


def ran_since(pid, record):
    """Whether a process stopped with `stop()` has run since: how it did, or None."""
    tids = _tasks(pid)
    started = set(tids) - set(record)
    if started:
        return f"it started thread(s) {', '.join(sorted(started))}"
    for tid in tids:
        state = _state(pid, tid)
        if state in ("Z", "X"):
            continue  # killed: it runs nothing of the process any more
        if state not in _STOPPED_STATES:
            return f"its thread {tid} is running (state {state})"
        runs = _times_run(pid, tid)
        if runs != record[tid]:
            return f"its thread {tid} was put on a CPU again"
    return None


_FUTEX, _FUTEX_WAITS, _FUTEX_PRIVATE = "202", (0, 9), 128  # x86_64: futex; FUTEX_WAIT, FUTEX_WAIT_BITSET


def waits_for_ever(pid):
    """Whether the process can never run again by itself: it has one thread, and that thread
    waits on a futex of its own memory with no timeout. Only another thread of the same
    process could wake it, and there is none: a copy forked while another thread of E held a
    lock the copy then takes (torch's generator, as it seeds) is in exactly this state. False
    where the kernel does not show the grader what the thread waits in."""
    tids = _tasks(pid)
    if len(tids) != 1:
        return False
    try:
        with open(f"/proc/{pid}/task/{tids[0]}/syscall") as syscall:
            fields = syscall.read().split()
        number, operation, timeout = fields[0], int(fields[2], 16), int(fields[4], 16)
    except (OSError, ValueError, IndexError):
        return False
    private = operation & _FUTEX_PRIVATE
    return number == _FUTEX and bool(private) and operation & 0x7F in _FUTEX_WAITS and timeout == 0


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


def _faults(pid):
    """(start time, page faults, page tables in bytes) of a process, or None once it is gone.

    Every page a process adds to the machine after it starts comes from a page fault of its
    own: a page it writes for the first time, or its own copy of a page it shares with the
    process it was forked from (a copy-on-write fault; since Linux 5.8 the kernel splits a
    shared huge page and copies 4 KiB). /proc/PID/stat counts it whether the fault came from
    the process's code or from a system call filling its buffer (MAP_POPULATE, mlock, read).
    With transparent huge pages off in the sandbox (`jail.lock_down`; the program filter
    refuses turning them back on or mapping hugetlb pages), each fault adds at most one
    4 KiB page, and the page tables it grows are read apart (VmPTE). The start time tells a
    reused pid from the process it replaces."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tables = _fields(f"/proc/{pid}/status", _KERNEL_FIELDS)
    except OSError:
        return None
    if tables is None:
        return None
    # fields[0] is stat's 3rd field (state): minflt is the 10th, majflt the 12th, starttime the 22nd
    return int(fields[19]), int(fields[7]) + int(fields[9]), tables


class MemoryWatch:
    """Ends a submission once all its processes together hold more than `budget` above what
    E held when it started (its share of the warm template's pages): `over_budget(used)` is
    called once, from the watch's thread, which looks every `interval` seconds.

    Three measures, from cheap to exact:

    * While a process runs that the grader did not ask for (`held()` names those it did: E
      and its check processes), RSS summed over the processes: an upper bound (a page two
      processes share counts twice) that costs microseconds. A helper the program forked is
      charged all it maps, and a swarm of helpers is stopped within one interval.
    * Otherwise, the last exact measure plus, for each process, 4 KiB for every page fault
      it took since then and the page tables it grew (`_faults`; all of a process's that
      did not exist then). Also an upper bound, and as cheap: a page comes to the machine
      only through a fault. It errs high for faults that map a page that exists already
      (a library's code, the zero page) and for memory freed since, never low.
    * PSS (`exact`): each page shared by k processes counted 1/k times, so the sum is what
      they hold together, at the cost of a walk of every page table (milliseconds to tens
      of milliseconds per process). Read when the bound above exceeds the budget: at most
      every `exact_interval` while it exceeds it by less than `budget / 16`, at once when by
      more, so a process that copies a large buffer on write at gigabytes a second is
      stopped within about one interval and one walk of the budget. The submission is ended
      on this measure.

    Pages a copy-on-write fork dirties are private and counted either way; memfds are
    refused (the program filter), and the tmpfs has its own size and inode caps.
    """

    def __init__(self, namespace, first_pid, budget, over_budget, held=None, interval=0.05, exact_interval=0.25):
        self.namespace, self.budget, self.over_budget = namespace, budget, over_budget
        self.held = held or (lambda: {first_pid})
        self.interval, self.exact_interval = interval, exact_interval
        self.base_cheap = upper_bound([first_pid])
        self.base_exact = exact([first_pid])
        self.peak = 0
        self.walks = 0  # exact measures taken after the base
        self.tripped = False
        self._last_exact = 0.0
        started = _faults(first_pid)
        self._anchor = (0, {first_pid: started} if started else {})  # (exact measure, counters then)
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
        held = self.held()
        helpers = set() if held is None else set(pids) - held
        if helpers:
            used, measured_exactly = upper_bound(pids) - self.base_cheap, False
        else:
            used, measured_exactly = self._bound_from_faults(pids)
        self.peak = max(self.peak, used)
        if used > self.budget and (helpers or measured_exactly) and not self.tripped:
            self.tripped = True
            self.over_budget(used)
        return used

    def _bound_from_faults(self, pids):
        """(memory charged, whether it is the exact measure): the fault bound, or PSS when
        the bound exceeds the budget (see the class)."""
        counters = {pid: counted for pid in pids if (counted := _faults(pid))}
        anchored, then = self._anchor
        bound = anchored
        for pid, (started, faults, tables) in counters.items():
            before = then.get(pid)
            if before is None or before[0] != started:
                before = (started, 0, 0)
            bound += 4096 * (faults - before[1]) + max(0, tables - before[2])
        if bound <= self.budget:
            return bound, False
        urgent = bound > self.budget + self.budget // 16
        if not urgent and time.monotonic() - self._last_exact < self.exact_interval:
            return bound, False
        # the counters were read before the walk: what is faulted during it counts again next time
        used = exact(pids) - self.base_exact
        # timed from the end of the walk: over a GiB it takes longer than `interval`
        self._last_exact = time.monotonic()
        self._anchor = (used, counters)
        self.walks += 1
        return used, True

    def _watch(self):
        wait = self.interval
        while not self._stop.wait(wait):
            try:
                used = self.check()
            except Exception:  # noqa: BLE001  (a vanished process between two reads)
                continue
            # within an eighth of the budget, five times as often: a process that writes
            # gigabytes a second crosses the rest of it in a few intervals
            wait = self.interval / 5 if used > self.budget - self.budget // 8 else self.interval
