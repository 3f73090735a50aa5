"""The warm template that sandboxed children are forked from.

Started once per grading process or pool (`python -m grader.untrusted.zygote FD`), it imports
torch, matplotlib, IPython and the child's code, makes the IPython shell the program will
run in (grader.untrusted.child.sandbox_shell: never used here), never touches CUDA (a process that has initialised CUDA
cannot fork children that use it), never sees hidden tests or solutions, and never runs
student code itself. Each request on the control socket carries the limits and three
file descriptors (the submission's control socket, stdout and stderr) after the socket its
answer goes to (grader.engine.zygote_launcher: one zygote can serve a whole pool); the zygote forks,
the child locks itself down and serves the submission (grader.untrusted.child: the program
once, then a fresh fork per check), and the zygote answers with the child's pid.
"""

import gc
import json
import os
import select
import signal
import socket
import sys
import traceback

os.environ["MPLBACKEND"] = "agg"  # read when matplotlib is imported: no display in the sandbox

try:  # students plot: warm, a notebook's `import matplotlib.pyplot` costs nothing (~1 s otherwise)
    import matplotlib.pyplot  # noqa: F401
except ImportError:  # a grading core run from the source tree without it grades all the same
    pass
import numpy  # noqa: F401,E402  (warm imports: the child must not pay for them)
import torch  # noqa: E402
import torch.fx.experimental.symbolic_shapes  # noqa: F401,E402  (the first backward imports sympy: ~1 s)
import torch.nn.functional  # noqa: F401,E402
import torch._dynamo  # noqa: F401,E402  (the first optimizer or FlopCounterMode imports it: ~1 s)

from grader import wire  # noqa: E402
from grader.untrusted import child, jail, syscalls  # noqa: E402

GRADER_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_MAX_REQUEST = 1 << 20


def main(control_fd):
    torch.set_num_threads(1)
    torch.backends.cudnn.allow_tf32 = False  # the suites' references are exact float32
    child.sandbox_shell()
    # Orphans of a killed sandbox are re-parented here and, with SIGCHLD ignored, reaped
    # by the kernel: no zombies pile up under a container's PID 1.
    jail.set_child_subreaper()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # Everything imported so far is shared with every child; frozen, the cyclic GC never
    # walks it there, so children do not copy those pages on write.
    gc.freeze()
    control = socket.socket(fileno=control_fd)
    held = _Held(control)
    try:
        while held.wait_for_request():
            try:
                message, fds, _, _ = socket.recv_fds(control, _MAX_REQUEST, 4)
            except OSError:
                return
            if not message:
                return  # every grading process that held the control socket is gone
            if not fds:
                continue
            reply_fd, fds = fds[0], fds[1:]
            reply = socket.socket(fileno=reply_fd)
            request = json.loads(message)
            answer = _answer(request, fds, control_fd)
            try:
                reply.sendall(json.dumps(answer).encode())
            except OSError:
                pass  # the asker is gone: a submission it asked for is killed at once
            if request["op"] == "spawn":
                held.hold(answer["pid"], reply)
            else:
                reply.close()
    finally:
        held.kill_all()


class _Held:
    """The submissions this zygote started, each held by the socket its grader asked on.

    The grader keeps its end open while the submission lives (grader.engine.sandbox). When
    that end closes, because the grader ended the submission or because the grading process
    died (killed, or its interpreter exited mid-grade), the zygote kills the submission's
    first process, pid 1 of its PID namespace, and with it every process of the namespace,
    stopped ones included; when the zygote itself stops, it kills all of them. (A pidfd names
    the process, so a pid reused since is never hit.)"""

    def __init__(self, control):
        self.control = control
        self.poller = select.poll()
        self.poller.register(control, select.POLLIN)
        self.lifelines = {}  # fd -> (its socket, the submission's pidfd or None)

    def hold(self, pid, lifeline):
        try:
            pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError):  # already gone, or a kernel without pidfds
            pidfd = None
        self.lifelines[lifeline.fileno()] = (lifeline, pidfd)
        self.poller.register(lifeline, select.POLLRDHUP)

    def wait_for_request(self):
        """Block until a request arrives, killing the submissions let go of meanwhile."""
        while True:
            ready = self.poller.poll()
            for fd, _ in ready:
                if fd in self.lifelines:
                    self._kill(fd)
            if any(fd == self.control.fileno() for fd, _ in ready):
                return True

    def _kill(self, fd):
        self.poller.unregister(fd)
        lifeline, pidfd = self.lifelines.pop(fd)
        lifeline.close()
        if pidfd is not None:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass  # gone already
            os.close(pidfd)

    def kill_all(self):
        for fd in list(self.lifelines):
            self._kill(fd)


def _answer(request, fds, control_fd):
    if request["op"] == "spawn":
        return {"pid": _spawn(request, fds, control_fd)}
    for fd in fds:
        os.close(fd)
    if request["op"] == "kill_uid":
        _kill_uid(request["uid"])
        return {"killed": True}
    if request["op"] == "freeze":
        return {"weakened": _in_root_helper(_freeze_writable, request["pid"])}
    if request["op"] == "own_proc":
        refused = [line for pid in request["pids"] for line in _mount_own_proc(pid)]
        return {"weakened": list(dict.fromkeys(refused))}
    return {"error": f"unknown request {request['op']!r}"}


def _program_filter():
    """The last step before student code: the seccomp program filter (grader.untrusted.syscalls
    says what it refuses)."""
    try:
        syscalls.install_program_filter(cuda=os.path.exists("/dev/nvidiactl"))
    except OSError as exc:
        return [f"seccomp: the kernel refused the filter ({exc.strerror}); only the namespaces, "
                "uid and rlimits hold the sandbox"]
    return []




def _spawn(request, fds, control_fd):
    call_fd, out_fd, err_fd = fds
    pid = jail.fork_sandbox()  # pid 1 of its own PID namespace
    if pid == 0:
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(control_fd)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            weakened = jail.lock_down(request["limits"], [call_fd], [GRADER_PACKAGE])
            sock = socket.socket(fileno=call_fd)
            weakened += _program_filter()
            wire.send(sock, {"hello": True, "weakened": weakened})
            child.serve_submission(sock, fork=jail.fork_check, isolate=jail.isolate_call,
                                   prepare=jail.prepare_copies)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(0)
    for fd in fds:
        os.close(fd)
    return pid


def _freeze_writable(pid):
    """Make a submission's writable mounts read-only once its program has run: after it, no
    check can leave a file for another."""
    freeze_writable = getattr(jail, "freeze_writable", None)
    if freeze_writable is None:
        return ["read-only file system after the program: not available"]
    return freeze_writable(pid)


def _mount_own_proc(pid):
    """A check process's own /proc (grader.untrusted.jail.mount_own_proc): as root with one
    thread, here, entering its mount namespace and coming back (a fork of this process, with
    torch's pages, would cost more than the rest of a check's start); else in a helper. A
    zygote that cannot come back ends (the next grading starts another)."""
    if os.geteuid() != 0 or len(os.listdir("/proc/self/task")) != 1:
        return _in_root_helper(jail.mount_own_proc, pid)
    if _mount_own_proc.home is None:
        _mount_own_proc.home = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return jail.mount_own_proc(pid)
    finally:
        try:
            jail.back_to_mount_namespace(_mount_own_proc.home)
        except OSError:
            os._exit(1)


_mount_own_proc.home = None


def _in_root_helper(work, pid):
    """`work(pid)` in a short-lived fork of the zygote, which has the privileges the sandbox
    dropped (and one thread, for setns into its namespaces); returns its list of what the
    kernel refused."""
    reader, writer = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(reader)
        try:
            weakened = work(pid)
            os.write(writer, json.dumps(weakened).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as answer:
        data = answer.read()
    try:
        return list(json.loads(data))
    except ValueError:
        return [f"{work.__name__}: the helper failed"]


def _kill_uid(uid):
    """Kill every process of a sandbox uid, however its children escaped their group; done
    before the answer, so the uid is never leased again while its old processes live."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as done:
        done.read()  # end of file: the helper has exited


if __name__ == "__main__":
    main(int(sys.argv[1]))
