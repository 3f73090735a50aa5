"""Starting the sandbox's warm fork server (grader.untrusted.zygote), and sharing it.

This module imports only the standard library, so a process can start the zygote before
it imports torch itself: the two imports (~2 s of CPU each) then run side by side.

The control socket is SOCK_SEQPACKET and every request carries its own reply socket, so
one zygote can serve several grading processes at once (each message arrives whole, and
each answer goes back to whoever asked): a pool starts one zygote (`launch`) and hands
its control socket to every worker (`attach`), instead of one zygote, one torch import
and ~250 MiB per worker.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

_early = {}  # pid -> Launched: started by this process, not adopted yet
_attached = {}  # pid -> Launched: a zygote this process was handed (a pool worker)
_lock = threading.Lock()


class Launched:
    """A zygote: its pid, our end of its control socket and, where we started it, the Popen."""

    def __init__(self, pid, control, popen=None):
        self.pid, self.control, self.popen = pid, control, popen

    def alive(self):
        if self.popen is not None:
            return self.popen.poll() is None
        try:  # started by another process: a zombie (its parent has not reaped it) is dead too
            with open(f"/proc/{self.pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def stop(self):
        self.control.close()
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()


def launch():
    """Start a new zygote process."""
    control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    package_root = str(Path(__file__).resolve().parents[2])
    # a scrubbed environment: nothing of the grader's (an admin token, say) reaches a sandbox
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "CUDA_VISIBLE_DEVICES", "LANG")}
    env.update({"PYTHONPATH": package_root, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    popen = subprocess.Popen(
        [sys.executable, "-m", "grader.untrusted.zygote", str(theirs.fileno())],
        pass_fds=[theirs.fileno()], env=env, cwd="/", stdin=subprocess.DEVNULL)
    theirs.close()
    return Launched(popen.pid, control, popen)


def start_early():
    """Start this process's zygote now, while the caller goes on to import the grader
    (unless it was handed one)."""
    with _lock:
        if os.getpid() not in _early and os.getpid() not in _attached:
            _early[os.getpid()] = launch()


def attach(pid, control):
    """Use the zygote `pid` (started by a parent, e.g. a pool) through `control` in this process."""
    with _lock:
        _attached[os.getpid()] = Launched(pid, control)


def adopt_or_launch():
    """This process's zygote: the one it was handed or started early, if alive; else a new one."""
    with _lock:
        for started in (_attached.pop(os.getpid(), None), _early.pop(os.getpid(), None)):
            if started is not None and started.alive():
                return started
    return launch()
