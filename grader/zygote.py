"""Starting the sandbox's warm fork server (grader.untrusted.zygote), and nothing else.

It imports only the standard library, so a process can start the zygote *before* it
imports torch itself: the two imports (~2 s of CPU each) then run side by side instead of
one after the other. `start_early()` does that; grader.sandbox.Zygote adopts the process
it started, or starts one when nobody did.
"""

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

_early = {}  # pid -> (process, control socket): started by this process, not adopted yet
_lock = threading.Lock()


def launch():
    """A new zygote process and our end of its control socket."""
    control, theirs = socket.socketpair()
    package_root = str(Path(__file__).resolve().parent.parent)
    # a scrubbed environment: nothing of the grader's (an admin token, say) reaches a sandbox
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "CUDA_VISIBLE_DEVICES", "LANG")}
    env.update({"PYTHONPATH": package_root, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.untrusted.zygote", str(theirs.fileno())],
        pass_fds=[theirs.fileno()], env=env, cwd="/", stdin=subprocess.DEVNULL)
    theirs.close()
    return process, control


def start_early():
    """Start this process's zygote now, while the caller goes on to import the grader."""
    with _lock:
        if os.getpid() not in _early:
            _early[os.getpid()] = launch()


def adopt_or_launch():
    """The zygote `start_early` started in this process, if it is still alive; else a new one."""
    with _lock:
        early = _early.pop(os.getpid(), None)
    if early is not None and early[0].poll() is None:
        return early
    return launch()
