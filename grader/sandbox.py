"""The trusted side of the sandbox: start a locked-down child, talk to it, kill it.

A `Sandbox` holds one child process running one submission's program. It sends calls
as grader.wire messages, enforces a wall clock on each call and on the whole submission,
keeps the first bytes of the child's stdout and stderr, and kills the child's process
group (and, when the grader is root, every process of the child's uid) when it closes,
times out, or dies. Children are forked from a warm zygote (grader.untrusted.zygote).
"""

import dataclasses
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from grader import wire


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
    processes: int = 64
    output_bytes: int = 64 << 10
    reply_bytes: int = 256 << 20
    restarts: int = 5


class SandboxFailure(Exception):
    """The child did not answer: it crashed, timed out, or said something malformed."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind  # "timeout", "crash", "budget", "protocol"


class Sandbox:
    def __init__(self, cells, limits=Limits(), hidden_paths=(), read_only_paths=()):
        self.cells = cells
        self.limits = limits
        self.hidden_paths = [str(p) for p in hidden_paths]
        self.read_only_paths = [str(p) for p in read_only_paths]
        self.deadline = time.monotonic() + limits.submission_seconds
        self.stdout = OutputCapture(limits.output_bytes)
        self.stderr = OutputCapture(limits.output_bytes)
        self.program = None
        self.weakened = []
        self.restarts = -1
        self._child = None
        self._program_failure = None

    # -- lifecycle -----------------------------------------------------------------

    def ensure_started(self):
        if self._child is not None:
            return
        if self._program_failure is not None:
            raise self._program_failure
        if self.restarts >= self.limits.restarts:
            raise SandboxFailure("budget", "the sandbox was restarted too many times; giving up")
        self.restarts += 1
        self._child = _Child.spawn(self.limits, self.hidden_paths, self.read_only_paths,
                                   self.stdout, self.stderr)
        try:
            hello = self._receive(self.limits.call_seconds)[0]
            self.weakened = list(hello.get("weakened", []))
            self.program = self._request("program", {"cells": self.cells},
                                         timeout=self.limits.program_seconds)
        except SandboxFailure as failure:
            # The same cells would hang or crash the same way again: do not rerun them.
            self._program_failure = SandboxFailure(failure.kind, f"while running your notebook's cells: {failure}")
            self.kill()
            raise self._program_failure from None
        except BaseException:
            self.kill()
            raise

    def kill(self):
        if self._child is not None:
            self._child.kill()
            self._child = None

    def close(self):
        self.kill()
        self.stdout.close()
        self.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- calls ---------------------------------------------------------------------

    def request(self, op, payload, timeout=None):
        """Send one operation; return its decoded value, or raise with the child's error."""
        self.ensure_started()
        return self._request(op, payload, timeout or self.limits.call_seconds)

    def _request(self, op, payload, timeout):
        tensors = {}
        header = {"op": op, "payload": wire.encode(payload, tensors)}
        try:
            wire.send(self._child.sock, header, tensors)
        except OSError:
            self._child_died()
        header, tensors = self._receive(timeout)
        reply = wire.decode(header.get("payload"), tensors, _place_on_device)
        if not isinstance(reply, dict) or "ok" not in reply:
            self.kill()
            raise SandboxFailure("protocol", "the sandbox sent a malformed reply")
        return reply

    def _receive(self, timeout):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.kill()
            raise SandboxFailure("budget", "the submission used up its total time budget "
                                 f"of {self.limits.submission_seconds:.0f} s")
        self._child.sock.settimeout(min(timeout, remaining))
        try:
            return wire.receive(self._child.sock, self.limits.reply_bytes)
        except TimeoutError:
            self.kill()
            raise SandboxFailure("timeout", f"no answer within {min(timeout, remaining):.0f} s "
                                 "(an infinite loop, or far too slow)") from None
        except (EOFError, OSError):
            self._child_died()
        except (wire.WireError, ValueError) as exc:
            self.kill()
            raise SandboxFailure("protocol", f"the sandbox sent malformed data: {exc}") from None

    def _child_died(self):
        self.kill()
        raise SandboxFailure("crash", "the Python process running your code died "
                             "(os._exit, a crash in native code, or a resource limit)")


def _place_on_device(tensor, meta):
    device = wire.checked_device(meta)
    return tensor if device.type == "cpu" else tensor.to(device)


class _Child:
    """One forked child: its call socket, process group and uid lease."""

    def __init__(self, pid, sock, uid_lease):
        self.pid, self.sock, self.uid_lease = pid, sock, uid_lease

    @classmethod
    def spawn(cls, limits, hidden_paths, read_only_paths, stdout, stderr):
        lease = UidLease.take() if os.geteuid() == 0 else None
        ours, theirs = socket.socketpair()
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
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.uid_lease is not None:
            Zygote.shared().kill_uid(self.uid_lease.uid)
            self.uid_lease.release()
        self.sock.close()


class Zygote:
    """Client for the warm fork server; one per grading process, started on first use."""

    _shared = None
    _shared_pid = None
    _shared_lock = threading.Lock()

    def __init__(self):
        self._lock = threading.Lock()
        self._control, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "CUDA_VISIBLE_DEVICES", "LANG")}
        env.update({"PYTHONPATH": package_root, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.untrusted.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=env, cwd="/", stdin=subprocess.DEVNULL)
        theirs.close()

    @classmethod
    def shared(cls):
        with cls._shared_lock:
            alive = cls._shared is not None and cls._shared.process.poll() is None
            if not alive or cls._shared_pid != os.getpid():
                cls._shared, cls._shared_pid = cls(), os.getpid()
            return cls._shared

    def spawn(self, request, fds):
        return self._ask(request, fds)["pid"]

    def kill_uid(self, uid):
        self._ask({"op": "kill_uid", "uid": uid}, [])

    def _ask(self, request, fds):
        with self._lock:
            socket.send_fds(self._control, [json.dumps(request).encode()], fds)
            reply = self._control.recv(4096)
        if not reply:
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
