"""Keeping the sandbox's own machinery out of the student's reach, in-process (PEP 578).

`install()` adds an audit hook, before the first student cell runs, that refuses (raising
`Refused`, a PermissionError; `FrameRefused` is also a ValueError, the error that callers of
sys._getframe such as typing, collections and logging already expect and tolerate):

  frames        sys._getframe, sys._current_frames, sys._current_exceptions and
                sys._getframemodulename (3.12),
                and reading tb_frame, gi_frame, cr_frame or ag_frame (CPython audits these
                reads as object.__getattr__): no walking up into the engine's frames
  objects       gc.get_objects, gc.get_referrers, gc.get_referents: no finding the
                engine's objects in the heap
  tracing       sys.settrace, sys.setprofile, sys.monitoring (3.12): no watching the
                engine run
  hooks         sys.addaudithook: no student hook beside this one
  code          assigning a function's __code__ (object.__setattr__)
  ctypes        every ctypes.* event: dlopen, dlsym, addressof, from_address (cdata),
                from_buffer, string_at, wstring_at, PyObj_FromPtr, ...
  processes     os.fork, os.forkpty, os.exec*, os.posix_spawn*, os.spawn*, os.system,
                subprocess.Popen (the kernel refuses them too; this says so sooner)
  imports       ctypes, _ctypes, cffi and the `blocked_modules` (grader.*), whenever the
                import machinery would load them; install() also removes them from
                sys.modules, so `import grader.wire` or `import ctypes` must load afresh
                and is refused. The engine keeps working: its functions hold their module
                globals directly, not through sys.modules. The engine must therefore
                import everything it needs before install() (no lazy imports after it).

Every event in CPython 3.11 that the list relies on is exercised by tests/test_jail.py.

What stays possible in-process, and why the verdict does not depend on it. An audit hook
is not a sandbox (PEP 578 says so): a determined student can still reach objects the engine
shares with libraries (a dispatch mode torch holds, a module that kept a reference to
ctypes, e.g. torch's or numpy's own `ctypes` attribute), and with ctypes or a write to
/proc/self/mem rewrite anything in its own process, this hook included. Python 3.11 audits
neither thread creation nor foreign calls. None of that decides a grade:

* the verdict is made on the trusted side, from data (grader.wire): values, errors and
  gradients are rebuilt and judged there; nothing the sandbox says about itself is trusted;
* nothing crosses from one check to the next, because each check runs in a fresh fork (C)
  of the program's process whose channels the kernel closes: the file system is read-only
  (jail.freeze_writable), shared memory is unmapped and cannot be re-created without CUDA,
  every descriptor is closed (jail.isolate_call), no process can be created, no socket
  opened, no signal sent, no lock taken (syscalls' call filter), and the check's memory is
  not readable by another process of the same uid (not dumpable). A seccomp filter cannot
  be lifted from inside, whatever the process does to its own memory.
"""

import io
import re
import sys

PROCESS_EVENTS = {"os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
                  "subprocess.Popen"}
INTROSPECTION_EVENTS = {"gc.get_objects", "gc.get_referrers", "gc.get_referents",
                        "sys.settrace", "sys.setprofile", "sys.addaudithook",
                        "sys.monitoring.register_callback"}
FRAME_EVENTS = {"sys._getframe", "sys._current_frames", "sys._current_exceptions", "sys._getframemodulename"}
FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame"}
CODE_ATTRIBUTES = {"__code__"}
NATIVE_MODULES = ("ctypes", "_ctypes", "cffi", "_cffi_backend")


class Refused(PermissionError):
    """An operation the sandbox does not allow student code to perform."""


class FrameRefused(Refused, ValueError):
    """A frame the sandbox does not hand out (ValueError: what sys._getframe callers expect)."""


def install(blocked_modules=("grader",), allow=()):
    """Add the audit hook and remove blocked modules from sys.modules; returns nothing.

    `allow`: event names to let through after all (for an engine that needs one).
    Call it after the engine has imported everything it needs, before student code runs.
    """
    blocked_roots = frozenset(blocked_modules) | frozenset(NATIVE_MODULES)
    refused = frozenset(PROCESS_EVENTS | INTROSPECTION_EVENTS) - frozenset(allow)
    frames = frozenset(FRAME_EVENTS) - frozenset(allow)
    ctypes_refused = "ctypes" not in allow

    def hook(event, args):
        if event in refused:
            raise Refused(f"{event} is not available in the grading sandbox")
        if event in frames:
            raise FrameRefused(f"{event} is not available in the grading sandbox")
        if event == "object.__getattr__":
            if args[1] in FRAME_ATTRIBUTES:
                raise FrameRefused(f"reading .{args[1]} is not available in the grading sandbox")
        elif event == "object.__setattr__":
            if args[1] in CODE_ATTRIBUTES:
                raise Refused(f"assigning .{args[1]} is not available in the grading sandbox")
        elif event == "import":
            if str(args[0]).partition(".")[0] in blocked_roots:
                raise Refused(f"module {args[0]!r} is not available in the grading sandbox")
        elif ctypes_refused and event.startswith("ctypes."):
            raise Refused(f"{event} is not available in the grading sandbox")

    sys.addaudithook(hook)
    _forget_modules(blocked_roots)


def _forget_modules(roots):
    for name in list(sys.modules):
        if name.partition(".")[0] in roots:
            del sys.modules[name]


def traceback_text(exc):
    """The traceback of `exc` as CPython's own (C) printer writes it, which reads frames
    without passing through the hook: for the engine, which may no longer read tb_frame."""
    buffer = io.StringIO()
    saved = sys.stderr
    sys.stderr = buffer
    try:
        sys.__excepthook__(type(exc), exc, exc.__traceback__)
    finally:
        sys.stderr = saved
    return buffer.getvalue()


_LOCATION = re.compile(r'^  File "([^"\n]*)", line (\d+)', re.MULTILINE)


def traceback_locations(exc):
    """(filename, line) of every frame in the traceback of `exc` (and of the exceptions it
    chains), outermost first, without reading a frame. For messages only: a student's
    exception text could imitate a line, so never decide anything from it."""
    return [(name, int(line)) for name, line in _LOCATION.findall(traceback_text(exc))]
