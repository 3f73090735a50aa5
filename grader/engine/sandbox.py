"""The trusted side of the sandbox: start a locked-down child, talk to it, hold it, kill it.

A `Sandbox` holds one submission: the process that ran its program (forked from a warm
zygote, grader.untrusted.zygote) and, per hidden check, a fresh fork of that process. It
sends calls as grader.wire messages, enforces a wall clock on each reply and on the whole
submission, keeps the first bytes of what the program printed, holds every process of the
submission from outside (grader.engine.containment: one runs at a time, strays are killed, their
memory is summed against the budget), and kills them all (its PID namespace, its process
group and, when the grader is root, every process of its uid) when it closes, times out,
or dies; should this process die first, the zygote kills them (`_Child`'s lifeline).
Every process in the sandbox is the student's: nothing here relies on what one of them
says or does for the grader.
"""

import dataclasses
import errno
import fcntl
import json
import os
import select
import signal
import socket
import threading
import time
from pathlib import Path

from grader import wire
from grader.engine import containment, zygote_launcher


@dataclasses.dataclass(frozen=True)
class Limits:
    call_seconds: float = 10.0
    program_seconds: float = 30.0
    submission_seconds: float = 90.0
    cpu_seconds: int = 120
    # The submission as a whole, all its processes together (grader.engine.containment.MemoryWatch);
    # also each process's own RLIMIT_DATA above what it started with, and its RLIMIT_AS with
    # 4 GiB more (docs/sandbox.md).
    memory_bytes: int = 2 << 30
    file_bytes: int = 16 << 20
    tmp_bytes: int = 64 << 20
    open_files: int = 256
    # RLIMIT_NPROC of the submission's uid, which counts threads: the 8 processes and threads
    # the grader may hold at once (E and its forking thread, a check's process, a one-off fresh
    # one, Sandbox.BURST spares) and 24 threads or processes for honest code (a DataLoader's
    # workers and their queue threads, torch's).
    processes: int = 32
    output_bytes: int = 64 << 10
    reply_bytes: int = 64 << 20


class SandboxFailure(Exception):
    """The child did not answer: it crashed, timed out, or said something malformed."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind  # "timeout", "crash", "budget", "protocol", "grader" (our own fault)


def _size(n):
    return f"{n / (1 << 30):g} GiB" if n >= 1 << 30 else f"{n / (1 << 20):g} MiB"


class Sandbox:
    """One submission in the sandbox: its executed program (E) and the check process (C).

    The program runs once, in E, seeded. Each hidden check then talks to its own fresh C,
    a fork of E (grader.untrusted.child); `new_check()` ends the current one, and
    `request(..., fresh=True)` asks a one-off C, for a comparison that must not share
    state with the check's own calls.

    Every one of these processes is the student's (any of them may run code the student
    put there, the engine's own code in them included), so what holds them is outside them
    (grader.engine.containment): only the process the grader is talking to runs; every other one
    is stopped (SIGSTOP, verified in /proc, and found not to have run when it is resumed).
    E runs on its own for the program, then only to fork check processes, a burst at a
    time ("spares", each stopped once it has said hello): a new batch is asked for as soon
    as the previous check's process is gone and none is left, so E's forks overlap the
    grader's own work between checks and each spare's start overlaps E's next fork. After
    the program, and whenever E or a check process has run, every process of the submission
    the grader did not ask for is killed. A watchdog sums the memory of all of them against `Limits.memory_bytes`.
    """

    # Check processes E forks in one go while it has one thread (`_burst`): each spare's start
    # overlaps E's next fork, and E is resumed, stopped and swept once for all of them. Graded
    # under load with four (bench/README.md: the honest corpus, the corpus, the fairness,
    # containment and round-4 tests, and a sandboxed seed sweep, beside other work on both cores).
    # With a thread of the student's beside E's fork loop it stays one: that thread runs while
    # E forks and may hold torch's generator lock at the second fork, and that copy hangs when
    # it seeds (tests/test_containment.py's thread notebook timed out in 4 of 36 grades at 3 a
    # go, in none at 1).
    BURST = 4

    def __init__(self, cells, limits=Limits(), hidden_paths=(), read_only_paths=(), seed=0):
        self.cells = cells
        self.limits = limits
        self.seed = seed
        self.hidden_paths = [str(p) for p in hidden_paths]
        self.read_only_paths = [str(p) for p in read_only_paths]
        self.deadline = time.monotonic() + limits.submission_seconds
        self.stdout = OutputCapture(limits.output_bytes)
        self.stderr = OutputCapture(limits.output_bytes)
        self.program = None
        self.weakened = []
        self.notes = []  # what the student should know about how their processes were held
        self._executed = None
        self._check = None
        self._spares = []  # the next checks' processes, forked in advance and stopped
        self._asked = []  # our ends of their sockets while E forks them
        self._stopped = {}  # pid -> its threads' records when it was stopped (containment.stop_all)
        self._ended = set()  # check processes the grader killed
        self._fresh_pids = set()  # the one-off process a comparison is talking to
        self._checks_left = None  # checks still to run, when the runner said (expect_checks)
        self._checks_stand_alone = False  # each check process in namespaces of its own (_stand_alone)
        self._namespace = None
        self._memory = None
        self._over_budget = None
        self._failure = None
        self.running_cell = None  # the program's cell that started last (E reports each)

    # -- lifecycle -----------------------------------------------------------------

    def ensure_started(self):
        """Start E and run the program, once; a program that failed is not run again."""
        if self._failure is not None:
            raise self._failure
        if self._executed is not None:
            return
        self._executed = _Child.spawn(self.limits, self.hidden_paths, self.read_only_paths,
                                      self.stdout, self.stderr)
        try:
            hello = self._receive(self._executed, self.limits.call_seconds)[0]
            self.weakened = list(hello.get("weakened", []))
            self._watch(self._executed.peer.pid)
            self._checks_stand_alone = containment.own_user_namespace(self._e_pid)
            self.program = self._request(self._executed, "program", {"cells": self.cells, "seed": self.seed},
                                         self.limits.program_seconds, progress=self._cell_started)
            self._stop(self._e_pid)
            self._sweep("after its cells ran; stopped before the checks, which start from the notebook's "
                        "main process alone")
            self.weakened += Zygote.shared().freeze(self._e_pid)
            self._ask_for_spares()
        except SandboxFailure as failure:
            running = f" (`{self.running_cell}` was running)" if self.running_cell and failure.kind != "protocol" else ""
            self._failure = SandboxFailure(failure.kind, f"while running your notebook's cells: {failure}{running}")
            self.kill()
            raise self._failure from None
        except BaseException:
            self.kill()
            raise

    def new_check(self):
        """The next request starts from the executed notebook again, in a fresh process."""
        if self._check is not None:
            self._end(self._check)
            self._check = None
        if self._executed is not None and self.program is not None and self._failure is None:
            try:
                self._verify_stopped()
                if not self._asked:
                    self._sweep("when a check ended; stopped")
                self._ask_for_spares()
            except SandboxFailure as failure:
                self._failure = failure
                self.kill()

    def expect_checks(self, count):
        """`count` checks run from now on, each in a check process of its own: no burst forks
        more than are left (a comparison's one-off process, `request(..., fresh=True)`, may
        ask for one more)."""
        self._checks_left = count

    def kill(self):
        if self._memory is not None:
            self._memory.close()
        if self._check is not None:
            self._end(self._check)
            self._check = None
        self._end_spares()
        if self._executed is not None:
            self._executed.kill()
            self._executed = None
        self._stopped.clear()

    def close(self):
        self.kill()
        self.stdout.close()
        self.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- calls ---------------------------------------------------------------------

    def request(self, op, payload, timeout=None, fresh=False):
        """Send one operation to the check's process (or a one-off fresh one); return the
        decoded reply, or raise SandboxFailure."""
        self.ensure_started()
        timeout = timeout or self.limits.call_seconds
        if fresh:
            process = self._fork()
            self._fresh_pids = {process.peer.pid}
            try:
                return self._request(process, op, payload, timeout)
            finally:
                self._end(process)
                self._fresh_pids = set()
                if self._failure is None and self._executed is not None:
                    self._ask_for_spares()  # when none is left: forked while the grader judges this one
        if self._check is None:
            self._check = self._fork()
        else:
            self._run_only(self._check)
        try:
            return self._request(self._check, op, payload, timeout)
        except SandboxFailure:
            self.new_check()
            raise

    def _fork(self):
        """A fresh copy of the executed notebook, running alone: the spare, or a new one.

        Each must prove, through the kernel's credentials on its first message, that it is
        a new child of E. While E forks one for a comparison inside a check, the check's
        own process is stopped (and found unchanged when it resumes)."""
        if not self._spares:
            self._ask_for_spares()
            self._take_spares()
        process = self._spares.pop(0)
        if self._checks_left is not None:
            self._checks_left -= 1
        self._run_only(process)
        return process

    def _ask_for_spares(self):
        """When none is left: let E run to fork the next check processes (`_burst`; every
        other process stopped)."""
        if self._spares or self._asked:
            return
        if self._check is not None:
            self._stop(self._check.peer.pid)
        count = self._burst()
        self._resume(self._e_pid)
        self._asked = [self._ask_for_fork() for _ in range(count)]

    def _burst(self):
        """How many check processes E forks now: `BURST` while E (stopped) has one thread, no
        more than the checks left (`expect_checks`) nor than the memory budget holds with every
        spare counted whole (the watchdog's cheap measure, so a burst never makes it walk page
        tables), else one."""
        if containment.thread_count(self._e_pid) != 1:
            return 1
        held_whole = self.limits.memory_bytes // max(containment.upper_bound([self._e_pid]), 1)
        wanted = self.BURST if self._checks_left is None else min(self.BURST, self._checks_left)
        return max(1, min(wanted, held_whole - 2))  # E and the check's process beside them

    def _take_spares(self):
        """The spares' first messages; then E and the spares are stopped, and every process
        of the submission the grader did not ask for is killed."""
        asked, self._asked = self._asked, []
        if self._e_pid in self._stopped:  # E stopped before it forked: it must run to do so
            self._run_only(self._executed)
        spares = [_CheckProcess(ours, wire.Peer()) for ours in asked]
        self._spares += spares  # held (the watchdog's count) from their first message on
        try:
            self._hellos(spares)
        except SandboxFailure:
            self._end_spares()
            raise
        if any(_parent_of(process.peer.pid) != self._e_pid for process in spares):
            self.kill()
            raise SandboxFailure("protocol", "the sandbox answered from a process it was not asked to start")
        self._stop(self._e_pid, *(process.peer.pid for process in spares))
        pids = [process.peer.pid for process in spares]
        for pid in pids:
            stray = containment.stray_descriptors(pid)
            if stray:
                self._refuse(f"a check's process of your notebook kept descriptors it inherited "
                             f"({', '.join(stray[:3])}); the submission was ended")
        self._stand_alone(pids)
        self._sweep("while the grader forked a check's process; stopped")

    # How many times a burst's copies are forked again when one waits for ever before its first
    # message (`_hellos`).
    REFORKS = 8

    def _hellos(self, spares):
        """Each new copy's first message. A copy waits for ever before it when a thread of the
        notebook's held a lock the copy takes as it starts (torch's generator, as it seeds) at
        the instant E forked it: E's forking thread waits for those locks first
        (child._generators_free), but a thread may take one again in the moment between. Such
        a copy is killed, seen from outside (containment.waits_for_ever), and E, still
        running, forks the rest of the burst again, a few times; the grader then says why."""
        reforks, index = 0, 0
        while index < len(spares):
            if self._hello(spares[index]):
                index += 1
                continue
            if reforks == self.REFORKS:
                raise SandboxFailure("crash", (
                    f"{reforks + 1} copies of your notebook made for a check in a row waited for ever for a "
                    "lock that a thread your notebook left running held when the copy was made (torch's or "
                    "numpy's random generator, most likely); end such threads before the notebook ends"))
            reforks += 1
            for process in spares[index:]:
                process.sock.close()
                self._spares.remove(process)
            spares[index:] = [_CheckProcess(self._ask_for_fork(), wire.Peer()) for _ in spares[index:]]
            self._spares += spares[index:]

    def _hello(self, process):
        """Read the copy's first message; False when, before it, a copy of E that had not said
        hello waited for ever (such copies are killed: their sockets are then useless)."""
        deadline = min(time.monotonic() + self.limits.call_seconds, self.deadline)
        seen, readable = set(), select.poll()
        readable.register(process.sock, select.POLLIN)
        while not readable.poll(50) and time.monotonic() < deadline:
            stuck = {pid for pid in self._unannounced_copies() if containment.waits_for_ever(pid)}
            if stuck & seen:  # twice in a row, 50 ms apart: every copy not heard from is forked again
                for pid in self._unannounced_copies():
                    _kill(pid)
                    self._ended.add(pid)
                return False
            seen = stuck
        self._receive(process, max(0.0, deadline - time.monotonic()))
        return True

    def _unannounced_copies(self):
        """E's children that the grader holds no message from (the copies of a burst not yet heard)."""
        known = set(self._held()) | self._ended | self._fresh_pids
        return [pid for pid in self._namespace.members() if pid not in known and _parent_of(pid) == self._e_pid]

    def _stand_alone(self, pids):
        """Each check process is pid 1 of a PID namespace of its own and sees a /proc of it: no
        pid, thread id or counter tells one check from another (docs/sandbox.md)."""
        if not self._checks_stand_alone:
            return  # the kernel gave the sandbox no user namespace: in `weakened` already
        for pid in pids:
            problem = containment.shared_namespace(pid, self._e_pid)
            if problem is not None:
                self._refuse(f"a check's process of your notebook: {problem}; the submission was ended")
        refused = Zygote.shared().own_proc(pids)
        if refused:
            self.weakened += [line for line in refused if line not in self.weakened]
        elif not all(containment.sees_itself_alone(pid) for pid in pids):
            self._refuse("a check's process of your notebook sees other processes in its /proc; "
                         "the submission was ended")

    def _refuse(self, message):
        self.kill()
        self._failure = SandboxFailure("protocol", message)
        raise self._failure

    def _end_spares(self):
        for process in self._spares:  # they die with E's PID namespace too; this closes our ends
            self._end(process)
        for ours in self._asked:
            ours.close()
        self._spares, self._asked = [], []

    def _ask_for_fork(self):
        """Ask E for a check process; returns our end of its call socket."""
        ours, theirs = socket.socketpair()
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            socket.send_fds(self._executed.sock, [b"F"], [theirs.fileno()])
        except OSError:
            ours.close()
            self._executed_died()
        finally:
            theirs.close()
        return ours

    # -- holding the processes (grader.engine.containment) --------------------------------

    @property
    def _e_pid(self):
        return self._executed.peer.pid

    def _held(self):
        """The processes the grader asked for: E, the check's, the spares (pid -> process)."""
        held = {self._e_pid: self._executed}
        for process in (self._check, *self._spares):
            if process is not None and process.peer.pid is not None:
                held[process.peer.pid] = process
        return held

    def _held_pids(self):
        """For the watchdog's thread: the processes the grader asked for (E, the check's,
        the spares, a one-off fresh one), or None while E forks some whose pids are not known yet."""
        try:
            if self._asked or any(process.peer.pid is None for process in self._spares):
                return None
            # the processes it killed too: they run nothing more, and are gone within milliseconds
            return set(self._held()) | self._fresh_pids | self._ended
        except AttributeError:  # E already gone
            return set()

    def _stop(self, *pids):
        pids = [pid for pid in pids if pid not in self._stopped]
        if not pids:
            return
        try:
            self._stopped.update(containment.stop_all(pids))
        except containment.StopFailed as exc:
            self.kill()
            self._failure = SandboxFailure("crash", f"a process of your notebook could not be stopped ({exc})")
            raise self._failure from None

    def _resume(self, pid):
        record = self._stopped.pop(pid, None)
        how = None if record is None else containment.ran_since(pid, record)
        if how is not None:
            which = "the notebook's main process" if pid == self._e_pid else "a check's process"
            self.kill()
            # a process the watchdog killed runs while it exits (freeing its pages): that is
            # the budget's doing, and the budget is the reason to give
            self._failure = self._over_budget or SandboxFailure(
                "protocol", f"a process of your notebook ran while the grader had stopped it ({which}: {how}; "
                "another of its processes resumed it); the submission was ended")
            raise self._failure
        containment.resume(pid)

    def _verify_stopped(self):
        """Every process the grader holds stopped (E, the spares) has not run since: checked
        when a check ends, whether or not E is resumed next."""
        for pid, record in list(self._stopped.items()):
            if containment.ran_since(pid, record) is not None:
                self._resume(pid)  # ends the submission, with the reason

    def _run_only(self, process):
        if self._asked:
            self._take_spares()  # processes E is forking run too: they must be held first
        self._stop(*(pid for pid in self._held() if pid != process.peer.pid))
        self._resume(process.peer.pid)

    def _end(self, process):
        process.kill()
        self._stopped.pop(process.peer.pid, None)
        if process.peer.pid is not None:
            self._ended.add(process.peer.pid)  # killed, maybe not gone yet: no stray

    def _sweep(self, what):
        killed = containment.sweep(self._namespace, set(self._held()) | self._ended)
        if killed:
            were = "processes your notebook started were" if killed > 1 else "process your notebook started was"
            note = f"{killed} {were} still running (os.fork, multiprocessing, a DataLoader's workers) {what}"
            if note not in self.notes:
                self.notes.append(note)

    def _watch(self, pid):
        self._namespace = containment.Namespace(pid)
        self._memory = containment.MemoryWatch(self._namespace, pid, self.limits.memory_bytes,
                                               self._memory_exceeded, held=self._held_pids)

    def _memory_exceeded(self, used):
        """From the watchdog's thread: end the whole submission (E is its PID namespace's init:
        every process in it dies with E); the waiting call then reports why."""
        self._over_budget = SandboxFailure(
            "budget", f"your notebook used more than {_size(self.limits.memory_bytes)} of memory in total "
                      f"across its processes ({_size(used)} when it was stopped); it was stopped")
        try:
            os.kill(self._e_pid, signal.SIGKILL)
        except (ProcessLookupError, AttributeError, TypeError):
            pass

    def _cell_started(self, header):
        label = header.get("running")
        self.running_cell = label[:80] if isinstance(label, str) else None

    # -- the wire ------------------------------------------------------------------

    def _request(self, process, op, payload, timeout, progress=None):
        """`progress(header)` takes the frames that carry "running" before the reply (the
        program's cells as they start); the whole exchange has `timeout`."""
        tensors = {}
        try:
            header = {"op": op, "payload": wire.encode(payload, tensors)}
            frame = wire.pack(header, tensors)
        except wire.MessageTooLarge as exc:
            raise SandboxFailure("grader", f"the grader's own request was not sent to the sandbox: {exc}; "
                                 "this is a limit of the grader, not a fault of your notebook") from None
        except (TypeError, ValueError, wire.WireError) as exc:
            raise SandboxFailure("grader", f"the grader could not encode its own request ({str(exc)[:200]}); "
                                 "this is a fault of the grader, not of your notebook") from None
        try:
            process.sock.sendall(frame)
        except OSError as exc:
            self._send_failed(process, exc)
        deadline = time.monotonic() + timeout
        header, tensors = self._receive(process, timeout)
        while progress is not None and "running" in header and not tensors:
            progress(header)
            try:
                header, tensors = self._receive(process, max(0.0, deadline - time.monotonic()))
            except SandboxFailure as failure:
                if failure.kind != "timeout":
                    raise
                raise SandboxFailure("timeout", f"no answer within {timeout:.0f} s "
                                     "(an infinite loop, or far too slow)") from None
        try:
            reply = wire.decode(header.get("payload"), tensors, _place_on_device)
        except wire.WireError as exc:
            process.kill()
            raise SandboxFailure("protocol", f"the sandbox sent malformed data: {str(exc)[:200]}") from None
        if not isinstance(reply, dict) or "ok" not in reply:
            process.kill()
            raise SandboxFailure("protocol", "the sandbox sent a malformed reply")
        return reply

    def _receive(self, process, timeout):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.kill()
            raise SandboxFailure("budget", "the submission used up its total time budget "
                                 f"of {self.limits.submission_seconds:.0f} s")
        wait = min(timeout, remaining)
        try:
            return wire.receive(process.sock, self.limits.reply_bytes,
                                deadline=time.monotonic() + wait, peer=process.peer)
        except TimeoutError:
            process.kill()
            raise SandboxFailure("timeout", f"no answer within {wait:.0f} s "
                                 "(an infinite loop, or far too slow)") from None
        except (EOFError, OSError):
            self._died(process)
        except wire.WireError as exc:  # whatever the parsers found wrong (grader.wire.refusing)
            process.kill()
            raise SandboxFailure("protocol", f"the sandbox sent malformed data: {str(exc)[:200]}") from None

    def _send_failed(self, process, exc):
        """Our request could not be written: the process is gone (its death is the student's),
        it closed the connection itself, or the failure is on our side."""
        if self._over_budget is not None or process.peer.pid is None or not _alive(process.peer.pid):
            self._died(process)
        process.kill()
        if exc.errno in (errno.EPIPE, errno.ECONNRESET):
            raise SandboxFailure("crash", "your code closed the sandbox's connection to the grader")
        raise SandboxFailure("grader", f"the grader could not send its request ({exc.strerror or exc}); "
                             "this is a fault on the grader's side, not of your notebook")

    def _died(self, process):
        process.kill()
        if self._over_budget is not None:
            self.kill()
            self._failure = self._over_budget
            raise self._failure
        if process is self._executed:
            self._executed_died()
        raise SandboxFailure("crash", "the Python process running your code died "
                             "(os._exit, a crash in native code, or a resource limit)")

    def _executed_died(self):
        self.kill()
        self._failure = self._over_budget or SandboxFailure("crash", "the sandbox holding your executed notebook died")
        raise self._failure


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _parent_of(pid):
    """A process's parent as this process sees it (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _place_on_device(tensor, meta):
    device = wire.checked_device(meta)
    return tensor if device.type == "cpu" else tensor.to(device)


class _CheckProcess:
    """A check's process C, known by its kernel-vouched pid."""

    def __init__(self, sock, peer):
        self.sock, self.peer = sock, peer

    def kill(self):
        if self.peer.pid is not None:
            _kill(self.peer.pid)
        self.sock.close()


class _Child:
    """The executed submission E: its control socket, process group, uid lease, and the
    lifeline the zygote holds it by (grader.untrusted.zygote: when this end closes, because
    the submission ended or this process died, the zygote kills E's whole PID namespace)."""

    def __init__(self, pid, sock, uid_lease, lifeline):
        self.pid, self.sock, self.uid_lease, self.lifeline = pid, sock, uid_lease, lifeline
        self.peer = wire.Peer()

    @classmethod
    def spawn(cls, limits, hidden_paths, read_only_paths, stdout, stderr):
        lease = UidLease.take() if os.geteuid() == 0 else None
        ours, theirs = socket.socketpair()
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        request = {"op": "spawn", "hidden_paths": hidden_paths, "read_only_paths": read_only_paths,
                   "limits": {**dataclasses.asdict(limits), "uid": lease.uid if lease else None}}
        try:
            pid, lifeline = Zygote.shared().spawn(request, [theirs.fileno(), out_w, err_w])
        finally:
            theirs.close()
            os.close(out_w)
            os.close(err_w)
        stdout.attach(out_r)
        stderr.attach(err_r)
        return cls(pid, ours, lease, lifeline)

    def kill(self):
        for group in {self.pid, self.peer.pid} - {None}:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.uid_lease is not None:
            Zygote.shared().kill_uid(self.uid_lease.uid)
            self.uid_lease.release()
        self.lifeline.close()
        self.sock.close()


class Zygote:
    """Client for the warm fork server (grader.engine.zygote_launcher starts it); one per grading process."""

    _shared = None
    _shared_pid = None
    _shared_lock = threading.Lock()

    def __init__(self):
        launched = zygote_launcher.adopt_or_launch()
        self.pid, self._control, self._launched = launched.pid, launched.control, launched
        self.process = launched.popen  # None where a parent started it (a pool's worker)
        self._gone = False

    @classmethod
    def shared(cls):
        with cls._shared_lock:
            alive = cls._shared is not None and not cls._shared._gone and cls._shared._launched.alive()
            if not alive or cls._shared_pid != os.getpid():
                cls._shared, cls._shared_pid = cls(), os.getpid()
            return cls._shared

    def spawn(self, request, fds):
        """A new submission's first process: (its pid, the lifeline the zygote holds it by)."""
        answer, lifeline = self._ask(request, fds, keep=True)
        return answer["pid"], lifeline

    def kill_uid(self, uid):
        self._ask({"op": "kill_uid", "uid": uid}, [])

    def own_proc(self, pids):
        """Mount, for each check process of `pids`, a /proc of its own PID namespace in its
        mount namespace (one request for a burst); returns what the kernel refused."""
        return self._ask({"op": "own_proc", "pids": list(pids)}, []).get("weakened", [])

    def freeze(self, pid):
        """Make the sandbox's writable mounts read-only once its program has run; returns
        the protections the kernel refused."""
        return self._ask({"op": "freeze", "pid": pid}, []).get("weakened", [])

    def _ask(self, request, fds, keep=False):
        """One request; its answer comes back on a socket of its own (grader.engine.zygote_launcher),
        which `keep` returns open beside the answer."""
        ours, theirs = socket.socketpair()
        try:
            try:
                socket.send_fds(self._control, [json.dumps(request).encode()], [theirs.fileno(), *fds])
            finally:
                theirs.close()
            reply = ours.recv(4096)
        except OSError:
            reply = b""
        if not reply or not keep:
            ours.close()
        if not reply:
            self._gone = True  # the next submission starts a zygote of its own
            raise SandboxFailure("crash", "the sandbox template process is gone")
        return (json.loads(reply), ours) if keep else json.loads(reply)


class UidLease:
    """An unprivileged uid for one child, leased across processes with a lock file."""

    FIRST_UID, COUNT = 61000, 512
    LOCK_DIR = Path("/tmp/convgrade-uids")

    def __init__(self, uid, handle):
        self.uid, self._handle = uid, handle

    @classmethod
    def take(cls):
        cls.LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        start = os.getpid() % cls.COUNT
        for offset in range(cls.COUNT):
            uid = cls.FIRST_UID + (start + offset) % cls.COUNT
            handle = open(cls.LOCK_DIR / str(uid), "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0)
            if handle.read():  # its holder died before it released the uid: its processes may live
                Zygote.shared().kill_uid(uid)
            handle.truncate(0)
            handle.write(str(os.getpid()))
            handle.flush()
            return cls(uid, handle)
        raise SandboxFailure("budget", "no free sandbox uid: too many submissions at once")

    def release(self):
        if self._handle is not None:
            self._handle.truncate(0)
            self._handle.close()
            self._handle = None


class OutputCapture:
    """Drains a pipe in a thread, keeping the first `limit` bytes and counting the rest."""

    def __init__(self, limit):
        self.limit = limit
        self.kept = bytearray()
        self.total = 0
        self._threads = []

    def attach(self, fd):
        thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _drain(self, fd):
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                self.total += len(chunk)
                room = self.limit - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]

    def close(self):
        for thread in self._threads:
            thread.join(timeout=1)

    def text(self):
        text = self.kept.decode(errors="replace")
        if self.total > len(self.kept):
            text += f"\n[... {self.total - len(self.kept)} more bytes not kept]"
        return text
