"""The trusted side of the sandbox: start a locked-down child, talk to it, kill it.

A `Sandbox` holds one submission: the process that ran its program (forked from a warm
zygote, grader.untrusted.zygote) and, per hidden check, a fresh fork of that process. It
sends calls as grader.wire messages, enforces a wall clock on each reply and on the whole
submission, keeps the first bytes of what the program printed, and kills every process of
the submission (its process group and, when the grader is root, every process of its uid)
when it closes, times out, or dies.
"""

import dataclasses
import fcntl
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

from grader import wire, zygote


@dataclasses.dataclass(frozen=True)
class Limits:
    call_seconds: float = 10.0
    program_seconds: float = 30.0
    submission_seconds: float = 90.0
    cpu_seconds: int = 120
    memory_bytes: int = 2 << 30
    file_bytes: int = 16 << 20
    tmp_bytes: int = 64 << 20
    open_files: int = 256
    processes: int = 32
    output_bytes: int = 64 << 10
    reply_bytes: int = 64 << 20


class SandboxFailure(Exception):
    """The child did not answer: it crashed, timed out, or said something malformed."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind  # "timeout", "crash", "budget", "protocol"


class Sandbox:
    """One submission in the sandbox: its executed program (E) and the check process (C).

    The program runs once, in E, seeded. Each hidden check then talks to its own fresh C,
    a fork of E (grader.untrusted.child); `new_check()` ends the current one, and
    `request(..., fresh=True)` asks a one-off C, for a comparison that must not share
    state with the check's own calls.
    """

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
        self._executed = None
        self._check = None
        self._spare = None  # our end of the next check process's socket, asked for in advance
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
            self.program = self._request(self._executed, "program", {"cells": self.cells, "seed": self.seed},
                                         self.limits.program_seconds, progress=self._cell_started)
            self.weakened += Zygote.shared().freeze(self._executed.peer.pid)
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
            self._check.kill()
            self._check = None

    def kill(self):
        self.new_check()
        if self._spare is not None:  # it dies with E's PID namespace; this only closes our end
            self._spare.close()
            self._spare = None
        if self._executed is not None:
            self._executed.kill()
            self._executed = None

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
            try:
                return self._request(process, op, payload, timeout)
            finally:
                process.kill()
        if self._check is None:
            self._check = self._fork()
        try:
            return self._request(self._check, op, payload, timeout)
        except SandboxFailure:
            self.new_check()
            raise

    def _fork(self):
        """A fresh copy of the executed notebook: E forks it, and it must prove, through the
        kernel's credentials on its first message, that it is a new child of E.

        The next one is asked for at once, so that E forks it (and it locks itself down)
        while this one answers the check: the fork then costs a check no waiting. It is the
        same copy of E either way, since E runs nothing between forks."""
        ours = self._spare or self._ask_for_fork()
        self._spare = self._ask_for_fork()
        process = _CheckProcess(ours, wire.Peer())
        try:
            self._receive(process, self.limits.call_seconds)
        except SandboxFailure:
            process.kill()
            raise
        if _parent_of(process.peer.pid) != self._executed.peer.pid:
            process.kill()
            self.kill()
            raise SandboxFailure("protocol", "the sandbox answered from a process it was not asked to start")
        return process

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

    def _cell_started(self, header):
        label = header.get("running")
        self.running_cell = label[:80] if isinstance(label, str) else None

    def _request(self, process, op, payload, timeout, progress=None):
        """`progress(header)` takes the frames that carry "running" before the reply (the
        program's cells as they start); the whole exchange has `timeout`."""
        tensors = {}
        header = {"op": op, "payload": wire.encode(payload, tensors)}
        try:
            wire.send(process.sock, header, tensors)
        except OSError:
            self._died(process)
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
        except (wire.WireError, TypeError, ValueError, RuntimeError) as exc:
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
        except (wire.WireError, ValueError, RecursionError, MemoryError) as exc:
            process.kill()
            raise SandboxFailure("protocol", f"the sandbox sent malformed data: {str(exc)[:200]}") from None

    def _died(self, process):
        process.kill()
        if process is self._executed:
            self._executed_died()
        raise SandboxFailure("crash", "the Python process running your code died "
                             "(os._exit, a crash in native code, or a resource limit)")

    def _executed_died(self):
        self.kill()
        self._failure = SandboxFailure("crash", "the sandbox holding your executed notebook died")
        raise self._failure


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
            try:
                os.kill(self.peer.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.sock.close()


class _Child:
    """The executed submission E: its control socket, process group and uid lease."""

    def __init__(self, pid, sock, uid_lease):
        self.pid, self.sock, self.uid_lease = pid, sock, uid_lease
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
            pid = Zygote.shared().spawn(request, [theirs.fileno(), out_w, err_w])
        finally:
            theirs.close()
            os.close(out_w)
            os.close(err_w)
        stdout.attach(out_r)
        stderr.attach(err_r)
        return cls(pid, ours, lease)

    def kill(self):
        for group in {self.pid, self.peer.pid} - {None}:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.uid_lease is not None:
            Zygote.shared().kill_uid(self.uid_lease.uid)
            self.uid_lease.release()
        self.sock.close()


class Zygote:
    """Client for the warm fork server (grader.zygote starts it); one per grading process."""

    _shared = None
    _shared_pid = None
    _shared_lock = threading.Lock()

    def __init__(self):
        launched = zygote.adopt_or_launch()
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
        return self._ask(request, fds)["pid"]

    def kill_uid(self, uid):
        self._ask({"op": "kill_uid", "uid": uid}, [])

    def freeze(self, pid):
        """Make the sandbox's writable mounts read-only once its program has run; returns
        the protections the kernel refused."""
        return self._ask({"op": "freeze", "pid": pid}, []).get("weakened", [])

    def _ask(self, request, fds):
        """One request; its answer comes back on a socket of its own (grader.zygote)."""
        ours, theirs = socket.socketpair()
        try:
            with ours:
                try:
                    socket.send_fds(self._control, [json.dumps(request).encode()], [theirs.fileno(), *fds])
                finally:
                    theirs.close()
                reply = ours.recv(4096)
        except OSError:
            reply = b""
        if not reply:
            self._gone = True  # the next submission starts a zygote of its own
            raise SandboxFailure("crash", "the sandbox template process is gone")
        return json.loads(reply)


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
            handle = open(cls.LOCK_DIR / str(uid), "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return cls(uid, handle)
        raise SandboxFailure("budget", "no free sandbox uid: too many submissions at once")

    def release(self):
        if self._handle is not None:
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
