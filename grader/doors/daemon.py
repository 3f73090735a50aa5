"""A warm local grader that `convgrade grade NOTEBOOK` reuses, the way mypy's dmypy does.

The first call starts a background process per user, course and Python (a Unix socket,
owner-only, under $XDG_RUNTIME_DIR/convgrade or /tmp/convgrade-$UID) and grades in it;
later calls hand it the notebook's path and print its result, skipping the ~5 s of
imports and the sandbox zygote's start. The daemon stops itself after
CONVGRADE_DAEMON_IDLE seconds without a request (default 600).

Its socket's name carries a fingerprint of the grader's code, the course (hidden suites,
solutions), the Python executable and the environment that steers grading, so a change
to any of them starts a fresh daemon, which stops the outdated one. A daemon that died
is replaced; one that is busy grading for another caller for longer than
CONVGRADE_DAEMON_WAIT seconds (default 30) is not waited for: the caller grades
in-process and says so. This module's client half imports only the standard library.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import sysconfig
import threading
import time
import traceback
from pathlib import Path

from grader.course import assignments
from grader.engine import zygote_launcher

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# What changes the result besides the notebook: these reach the daemon from its starter's environment.
STEERING_ENV = ("CONVGRADE_COURSE_DIR", "CONVGRADE_DATA_DIR", "CONVGRADE_SECRET", "CUDA_VISIBLE_DEVICES",
                "PYTHONPATH")
START_SECONDS = 30.0  # from launching the daemon to its socket answering
REPLY_MARGIN_SECONDS = 60.0  # beyond the wait and a submission's budget: a hung daemon is given up


class Unavailable(Exception):
    """The daemon cannot be used for this call; grade in-process instead."""


def idle_seconds():
    return float(os.environ.get("CONVGRADE_DAEMON_IDLE", 600))


def wait_seconds():
    return float(os.environ.get("CONVGRADE_DAEMON_WAIT", 30))


# -- where the daemon lives ----------------------------------------------------------

def runtime_dir():
    """An owner-only directory for the sockets; refuses one anybody else could enter."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(xdg) / "convgrade" if xdg and Path(xdg).is_dir() else Path(f"/tmp/convgrade-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700)
    info = os.lstat(base)
    if not os.path.isdir(base) or os.path.islink(base) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise Unavailable(f"{base} is not a directory only you can use")
    return base


def course_id():
    """One daemon slot per course directory and Python executable."""
    text = f"{assignments.COURSE_DIR.resolve()}\0{sys.executable}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fingerprint():
    """A hash of everything a grade depends on besides the notebook (file stats, not contents:
    any edit changes a file's mtime or size)."""
    digest = hashlib.sha256()
    digest.update(f"{sys.executable}\0{sys.version}\0".encode())
    for name in STEERING_ENV:
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    roots = [PACKAGE_DIR, assignments.SUITES, assignments.SOLUTIONS]
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            # Files only: a directory's mtime moves when Python writes its __pycache__.
            if "__pycache__" in path.parts or path.suffix == ".pyc" or not path.is_file():
                continue
            info = path.stat()
            digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    # A pip install (torch, pytest, nbformat) touches site-packages itself.
    site = Path(sysconfig.get_paths()["purelib"])
    digest.update(f"{site.stat().st_mtime_ns if site.is_dir() else 0}".encode())
    return digest.hexdigest()[:16]


def socket_path(key=None):
    path = runtime_dir() / f"grader-{course_id()}-{key or fingerprint()}.sock"
    if len(os.fsencode(path)) >= 108:  # sun_path's size on Linux
        raise Unavailable(f"the socket path {path} is too long; set XDG_RUNTIME_DIR to a shorter directory")
    return path


# -- the client ----------------------------------------------------------------------

def grade(path, assignment=None, seed=None):
    """The result of grader.engine.grading.grade(path, assignment), from the daemon when it can
    serve this call (starting it when none runs), in this process otherwise."""
    try:
        return request({"op": "grade", "path": str(Path(path).resolve()), "assignment": assignment,
                        "seed": seed, "wait": wait_seconds()})["result"]
    except Unavailable as reason:
        print(f"convgrade: grading in this process ({reason})", file=sys.stderr)
        from grader.engine.grading import grade as grade_here

        return grade_here(path, assignment, seed=seed)


def request(message, start=True):
    """Send one request to the current daemon (started if needed) and return its reply.
    A daemon that closes without answering (it was stopping just then, or was killed) is
    replaced once."""
    path = socket_path()
    for _ in range(2):
        try:
            connection = _connect(path)
        except OSError:
            if not start:
                raise Unavailable("no local grader is running") from None
            connection = _start(path)
        with connection:
            connection.settimeout(wait_seconds() + _submission_seconds() + REPLY_MARGIN_SECONDS)
            try:
                connection.sendall(json.dumps(message).encode() + b"\n")
                connection.shutdown(socket.SHUT_WR)
                answer = _read_all(connection)
            except (ConnectionResetError, BrokenPipeError):
                answer = b""
            except OSError as exc:  # a timeout: the daemon hangs, do not start a second one
                raise Unavailable(f"the local grader did not answer: {exc}") from None
        if answer or not start:
            break
    else:
        raise Unavailable("the local grader closed the connection without an answer, twice")
    try:
        reply = json.loads(answer)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise Unavailable("the local grader sent a malformed reply")
    if "error" in reply:
        raise Unavailable(reply["error"])
    if reply.get("busy"):
        raise Unavailable(f"the local grader is busy for over {wait_seconds():g} s")
    return reply


def status():
    """The running daemon's pid and fingerprint, or None when none runs for this course and code."""
    try:
        return request({"op": "status"}, start=False)
    except Unavailable:
        return None


def stop_all():
    """Stop every daemon of this course, whatever its fingerprint; returns how many answered."""
    return sum(_stop(path) for path in runtime_dir().glob(f"grader-{course_id()}-*.sock"))


def _connect(path):
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(5)
        connection.connect(str(path))
    except OSError:
        connection.close()
        raise
    return connection


def _start(path):
    """Start the daemon for `path` unless a concurrent caller just did; return a connection."""
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _connect(path)
        except OSError:
            pass
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a daemon that was killed
        log = os.open(path.with_suffix(".log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        daemon = subprocess.Popen([sys.executable, "-m", "grader.doors.daemon", str(path)], start_new_session=True,
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(assignments.COURSE_DIR))
        os.close(log)
        connection = _wait_for(path, daemon)
    path.with_suffix(".lock").unlink(missing_ok=True)
    _stop_outdated(path)
    return connection


def _wait_for(path, daemon):
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and daemon.poll() is None:
        try:
            return _connect(path)
        except OSError:
            time.sleep(0.02)
    raise Unavailable(f"the local grader did not start (see {path.with_suffix('.log')})")


def _stop_outdated(current):
    """Stop daemons of this course whose code or course files have since changed."""
    for path in current.parent.glob(f"grader-{course_id()}-*.sock"):
        if path != current:
            _stop(path)


def _stop(path):
    try:
        with _connect(path) as connection:
            connection.sendall(b'{"op": "stop"}\n')
            connection.shutdown(socket.SHUT_WR)
            _read_all(connection)
        return True
    except OSError:
        path.unlink(missing_ok=True)
        return False


def _read_all(connection):
    chunks = []
    while chunk := connection.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _submission_seconds():
    return 90.0  # grader.engine.sandbox.Limits().submission_seconds, without importing torch here


# -- the daemon ------------------------------------------------------------------------

class Daemon:
    """Accepts connections in a thread each; grades one at a time (pytest is not thread-safe)."""

    def __init__(self, path):
        self.path = Path(path)
        self.key = self.path.stem.rsplit("-", 1)[-1]
        self.idle = idle_seconds()
        self.grading = threading.Lock()
        self.warm = False
        self.counting = threading.Lock()
        self.active = 0
        self.last_request = time.monotonic()
        self.stopping = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket file is created 0600, never briefly wider
        try:
            self.listener.bind(str(self.path))
        finally:
            os.umask(old_umask)
        self.inode = os.stat(self.path).st_ino
        self.listener.listen(64)

    def serve(self):
        # Callers already wait in the backlog while this imports torch, pytest and nbformat,
        # and the sandbox's zygote imports torch beside it; the other assignments' suites are
        # loaded after the first reply (_warm_up).
        zygote_launcher.start_early()
        import grader.engine.grading  # noqa: F401

        self.last_request = time.monotonic()  # idle time counts from being ready, not from launch
        self.listener.settimeout(min(1.0, self.idle / 4))
        while not self.stopping.is_set() and not self._idle_too_long():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with self.counting:
                self.active += 1
                self.last_request = time.monotonic()
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()
        self.close()

    def _idle_too_long(self):
        return self.active == 0 and time.monotonic() - self.last_request > self.idle

    def close(self):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == self.inode:  # never remove a successor's socket
                self.path.unlink()
        self.listener.close()

    def _handle(self, connection):
        try:
            with connection:
                if not _same_user(connection):
                    return
                connection.settimeout(10)
                message = json.loads(_read_all(connection) or b"{}")
                connection.settimeout(None)
                connection.sendall(json.dumps(self._answer(message)).encode())
            self._warm_up()
        except Exception:
            traceback.print_exc()
        finally:
            with self.counting:
                self.active -= 1
                self.last_request = time.monotonic()

    def _answer(self, message):
        op = message.get("op")
        if op == "status":
            return {"pid": os.getpid(), "key": self.key, "idle_seconds": self.idle}
        if op == "stop":
            self.stopping.set()
            return {"stopped": os.getpid()}
        if op != "grade":
            return {"error": f"unknown request {op!r}"}
        if not self.grading.acquire(timeout=float(message.get("wait", wait_seconds()))):
            return {"busy": True}
        try:
            return {"result": _grade_here(message), "pid": os.getpid()}
        except Exception as exc:
            traceback.print_exc()
            return {"error": f"the local grader failed: {type(exc).__name__}: {exc}"}
        finally:
            self.grading.release()

    def _warm_up(self):
        """After the first reply: load every suite, so the next assignment is fast too."""
        if self.warm or self.stopping.is_set():
            return
        with self.grading:
            from grader.engine.grading import warm_up

            warm_up()
            self.warm = True


def _grade_here(message):
    from grader.engine.grading import grade

    return grade(message["path"], message.get("assignment"), seed=message.get("seed"))


def _same_user(connection):
    """The socket is 0600 in a 0700 directory already; this also checks the peer's uid."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", credentials)
    return uid == os.getuid()


def main(path):
    daemon = Daemon(path)
    try:
        daemon.serve()
    finally:
        daemon.close()


if __name__ == "__main__":
    main(sys.argv[1])
