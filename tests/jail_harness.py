"""A stand-in for the engine, to test grader/untrusted/{jail,syscalls} on their own.

Run as `python tests/jail_harness.py` with a JSON request on stdin; prints a JSON report.
It plays the zygote (imports torch, forks), E (lock_down, program filter, runs
the "program" snippets) and C (grader_fork, isolate_call, runs the "check" snippets), and
between the two asks a root process forked from itself to freeze_writable, the order the
engine follows. A snippet is Python source that may set `result`; an exception becomes
"ExceptionType: message". The snippets also get `libc` (ctypes, bound before the lock-down),
to reach the kernel's refusals directly.
"""

import ctypes
import json
import os
import sys
import traceback

import torch

from grader.untrusted import jail, syscalls

GRADER_DIR = os.path.dirname(os.path.abspath(jail.__file__)).rsplit(os.sep, 1)[0]
LIBC = ctypes.CDLL(None, use_errno=True)


def run_snippets(snippets, namespace):
    results = {}
    for name, source in snippets.items():
        scope = {"result": None, **namespace}
        try:
            exec(compile(source, f"<cell {name}>", "exec"), scope)
            results[name] = scope["result"]
        except BaseException as exc:  # noqa: BLE001  (a snippet may raise anything)
            results[name] = f"{type(exc).__name__}: {exc}"
        namespace.update({k: v for k, v in scope.items() if k.startswith("keep_")})
    return results


def send(fd, message):
    os.write(fd, (json.dumps(message, default=repr) + "\n").encode())


def program_process(request, report_w, go_r):
    """E: lock down, then the program, then (after the freeze) one check per fork."""
    limits = request["limits"]
    weakened = jail.lock_down(limits, [report_w, go_r], [GRADER_DIR])
    namespace = {"torch": torch, "os": os, "libc": LIBC, "ctypes": ctypes}
    if request.get("filter", True):
        syscalls.install_program_filter(cuda=request.get("cuda", False))
    program = run_snippets(request.get("program", {}), namespace)
    if request.get("release", False):  # as the engine's E does before the freeze
        jail.release_writable_files([0, 1, 2, report_w, go_r])
    send(report_w, {"weakened": weakened, "lock_down_seconds": jail.lock_down.seconds,
                    "program": program, "pid": os.getpid()})
    os.read(go_r, 1)  # the freeze is done
    if request.get("isolate", True):
        jail.prepare_copies()  # as the engine's E does once before its first check process
    for check in request.get("checks", []):
        pid = syscalls.grader_fork()
        if pid == 0:
            if request.get("isolate", True):  # False: a check process that skips it (the student's own)
                jail.isolate_call([report_w])
            send(report_w, {"check": run_snippets(check, namespace)})
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status:
            send(report_w, {"check": {"crashed": status}})


def main():
    request = json.load(sys.stdin)
    torch.set_num_threads(1)
    report_r, report_w = os.pipe()
    go_r, go_w = os.pipe()
    sandbox = jail.fork_sandbox()
    if sandbox == 0:
        try:
            os.close(report_r)
            os.close(go_w)
            program_process(request, report_w, go_r)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(0)
    os.close(report_w)
    os.close(go_r)
    lines = os.fdopen(report_r)
    report = json.loads(lines.readline() or "{}")
    report["freeze"] = freeze(sandbox) if request.get("freeze", True) else None
    os.write(go_w, b"x")
    report["checks"] = [json.loads(line)["check"] for line in lines]
    os.waitpid(sandbox, 0)
    print(json.dumps(report, default=repr))


def freeze(pid):
    """freeze_writable from a fresh fork of this (root, unconfined) process."""
    reply_r, reply_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.write(reply_w, json.dumps(jail.freeze_writable(pid)).encode())
        finally:
            os._exit(0)
    os.close(reply_w)
    with os.fdopen(reply_r) as reply:
        weakened = json.loads(reply.read() or '["freeze process died"]')
    os.waitpid(child, 0)
    return weakened


if __name__ == "__main__":
    main()
