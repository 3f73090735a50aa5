"""The sandboxed side of a submission: run the program once, then a fresh process per check.

    zygote --fork--> E: locked down; runs the notebook's program once, seeded
                     E --fork--> C1: answers the calls of hidden check 1, then is killed
                     E --fork--> C2: answers check 2, from the same executed state, same seed
                     ...

(each C pid 1 of a PID namespace of its own, with its own /proc: docs/sandbox.md)

Every check therefore starts from the same state (the executed notebook, the same seed),
and nothing one check's calls do reaches another: a C is a copy of E that can create no
process, write no file (the trusted side makes the writable mounts read-only once the
program has run) and keeps no descriptor but its own call socket. E itself answers only
"fork": it never runs a check.

The program runs the way a Jupyter kernel runs it: IPython's own shell executes each cell
(magics and `!` lines through IPython's input transformers, `display`, the display hooks),
the notebook's namespace is a real `__main__` module, and each cell's source is in linecache
(`inspect.getsource`, TorchScript). What a cell cannot do here (start a program: `!pip`,
`%%bash`) is skipped for that statement only, and reported as a note.

Everything here is untrusted from the moment the first student cell runs: the student may
have replaced any function, torch's included, and may read any frame or object of this
process. So this code decides nothing, and the kernel (grader.untrusted.jail, .syscalls)
holds the sandbox. It returns values, errors and gradients as plain data (grader.wire), and
the trusted side rebuilds and judges them. The trusted side also checks, with the kernel's
SCM_CREDENTIALS, that every reply comes from the fresh process it asked for.
"""

import contextlib
import functools
import gc
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import traceback
import types
import warnings

import numpy
import torch
from IPython.core.compilerop import CachingCompiler
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.text import LSString, SList
from torch import nn
from traitlets.config import Config

from grader import wire
from grader.untrusted import jail

_CELL_PREFIX = "<cell "


class Child:
    def __init__(self, namespace=None, progress=None):
        """`namespace`: run calls against these globals (nbgrader's door: the kernel's own);
        by default the program runs in a sandbox shell whose namespace is `__main__`.
        `progress(label)` is told when each cell starts (a time-out can then name it)."""
        self.shell = None
        self.namespace = namespace
        self.objects = {}
        self.seed = 0
        self.progress = progress
        self.kernels = KernelGuard()

    # -- the program ---------------------------------------------------------------

    def run_program(self, cells):
        self.shell = self.shell or sandbox_shell()
        self.namespace = self.shell.user_ns
        report = []
        for cell in cells:
            if self.progress is not None:
                self.progress(cell["id"])
            report.append({"id": cell["id"], **self._run_cell(cell)})
        return {"cells": report, "names": self._describe_names(), "skipped": self.shell.skipped[:50]}

    def _run_cell(self, cell):
        self.shell.compile.label = cell["id"]
        try:
            outcome = self.shell.run_cell(cell["source"], store_history=True)
            error = outcome.error_before_exec or outcome.error_in_exec
        except BaseException as exc:  # a student's SystemExit must not end the child
            error = exc
        if error is not None:
            return {"ok": False, "error": describe_error(error)}
        return {"ok": True}

    def _describe_names(self):
        kinds = {}
        hidden = self.shell.user_ns_hidden if self.shell is not None else {}
        for name, value in list(self.namespace.items()):
            if name.startswith("_") or (name in hidden and hidden[name] is value):
                continue
            if isinstance(value, type):
                kinds[name] = "class"
            elif callable(value):
                kinds[name] = "function"
        return kinds

    # -- calls ---------------------------------------------------------------------

    def handle(self, header, tensors):
        op = header.get("op")
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise ValueError(f"unknown operation {op!r}")
        args = wire.decode(header.get("payload"), tensors, self._place, self._resolve)
        return handler(**(args or {}))

    def op_program(self, cells, seed):
        self.seed = int(seed)
        seed_everything(self.seed)
        return self.run_program(cells)

    def op_call(self, target, args=(), kwargs=None, method=None, backward=None, no_grad=False, guard=False):
        """`guard`: the exercise may not use torch's convolution, pooling or unfold; a call that
        reaches their kernels (KernelGuard) is reported with the operator it reached."""
        function = self._callable(target, method)
        if backward is not None and isinstance(target, nn.Module):
            target.zero_grad(set_to_none=True)
        grad_context = torch.no_grad() if no_grad else torch.enable_grad()
        if guard:
            self.kernels.install()
        self.kernels.armed, self.kernels.route = bool(guard), None
        try:
            with grad_context:
                result = function(*args, **(kwargs or {}))
            reply = {"result": self._keep(result)}
            if backward is not None:
                reply.update(self._backward(target, result, backward, args, kwargs or {}))
        except BaseException:
            if self.kernels.route is not None:
                raise ForbiddenKernel(self.kernels.route) from None
            raise
        finally:
            self.kernels.armed = False
            if self.shell is None:  # in the notebook's own kernel (nbgrader's door): torch as it was
                self.kernels.uninstall()
        if self.kernels.route is not None:
            reply["forbidden"] = self.kernels.route
        # Every call returns its arguments as they are afterwards, so the trusted side compares
        # them with what it sent on every call: no call looks different from another.
        reply["args_after"] = self._keep(list(args))
        return reply

    def op_parameters(self, target):
        module = self._resolve(target)
        parameters = [
            {"name": name, "shape": tuple(p.shape), "dtype": p.dtype,
             "requires_grad": bool(p.requires_grad)}
            for name, p in module.named_parameters()
        ]
        plain = [name for name, value in vars(module).items()
                 if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter)]
        return {"parameters": parameters, "plain_tensors": plain}

    def op_state(self, target):
        module = self._resolve(target)
        return dict(module.state_dict(keep_vars=False))

    def op_load(self, target, state):
        module = self._resolve(target)
        with torch.no_grad():
            for name, value in module.named_parameters():
                if name in state:
                    value.copy_(state[name])
        return sorted(set(state) - {name for name, _ in module.named_parameters()})

    def op_children(self, target):
        module = self._resolve(target)
        return [(name, type(child).__name__) for name, child in module.named_children()]

    def op_to(self, target, device=None, dtype=None):
        module = self._resolve(target)
        module.to(device=device, dtype=dtype)
        return None

    def op_make_module(self, spec):
        return self._keep(build_module(spec))

    def op_release(self, target):
        self.objects.pop(target.ref if isinstance(target, wire.Handle) else target, None)
        return None

    # -- helpers -------------------------------------------------------------------

    def _callable(self, target, method):
        obj = target if not isinstance(target, str) else self._lookup(target)
        if method is not None:
            obj = getattr(obj, method)
        if not callable(obj):
            raise TypeError(f"{target!r} is not callable")
        return obj

    def _lookup(self, name):
        if name not in self.namespace:
            raise NameError(f"name {name!r} is not defined")
        return self.namespace[name]

    def _backward(self, target, result, grad_output, args, kwargs):
        if not isinstance(result, torch.Tensor):
            raise TypeError(f"expected a tensor to differentiate, got {type(result).__name__}")
        result.backward(grad_output)
        inputs = [v for v in _flatten((args, kwargs)) if isinstance(v, torch.Tensor)]
        reply = {"input_grads": [t.grad for t in inputs]}
        if isinstance(target, nn.Module):
            reply["param_grads"] = {n: p.grad for n, p in target.named_parameters()}
        return reply

    def _keep(self, value):
        """Objects that are not data stay here; the trusted side gets a handle. Values equal to
        plain data go as that data: a namedtuple as a tuple, a numpy scalar as int, float or bool."""
        if isinstance(value, (torch.Tensor, torch.Size, torch.dtype, bool, int, float, str,
                              type(None), wire.Handle)):
            return value
        if isinstance(value, (numpy.bool_, numpy.integer, numpy.floating)):
            return value.item()
        if isinstance(value, tuple):
            return tuple(self._keep(v) for v in value)
        if isinstance(value, list):
            return [self._keep(v) for v in value]
        if isinstance(value, dict):
            return {k: self._keep(v) for k, v in value.items()}
        ref = len(self.objects) + 1
        while ref in self.objects:
            ref += 1
        self.objects[ref] = value
        return wire.Handle(ref, type(value).__name__)

    def _resolve(self, handle):
        if not isinstance(handle, wire.Handle):
            return handle
        if handle.ref not in self.objects:
            raise LookupError(f"object #{handle.ref} no longer exists")
        return self.objects[handle.ref]

    @staticmethod
    def _place(tensor, meta):
        tensor = tensor.to(wire.checked_device(meta))
        if meta.get("requires_grad") and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return tensor


def _flatten(value):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    else:
        yield value


class ForbiddenKernel(RuntimeError):
    """What a guarded call that reached a windowing kernel and then raised raises instead; its
    message is the route (`aten::convolution`)."""


# The aten operators that compute a convolution, a pooling or a windowing, found by name once
# (in the template, before any student code), with a kernel of their own (a backend's or
# CompositeExplicitAutograd): every route to those computations ends in one of them.
_WINDOWING_OPERATOR = re.compile(r"conv(?!ert)|pool|unfold|im2col|col2im|^fold", re.IGNORECASE)


def _windowing_operators():
    has_kernel = torch._C._dispatch_has_kernel_for_dispatch_key
    operators = {}
    for full in torch._C._dispatch_get_all_op_names():
        namespace, _, name = full.partition("::")
        base, _, overload = name.partition(".")
        if namespace == "aten" and _WINDOWING_OPERATOR.search(base) and any(
                has_kernel(full, key) for key in ("CPU", "CompositeExplicitAutograd",
                                                  "CompositeExplicitAutogradNonFunctional")):
            operators[name] = getattr(getattr(torch.ops.aten, base), overload or "default")
    return operators


_WINDOWING_OPERATORS = _windowing_operators()


class KernelGuard:
    """The run-time line behind the static rule (grader.engine.shortcuts). Installed, each
    windowing operator gets a kernel at torch's dispatcher on the ADInplaceOrView key (below
    autograd, above every backend) that notes the operator while a guarded call runs and then
    computes exactly as torch does; unarmed, it only passes through. So it costs no check
    anything but the finding, and a student who removes it is still judged from the source.
    (Tensors made under torch.inference_mode skip that key: the static rule covers them.)"""

    def __init__(self):
        self.library = None
        self.armed = False
        self.route = None

    def install(self):
        """Once per process (~2 ms): E installs it before the checks are forked from it."""
        if self.library is not None:
            return
        try:  # after the program ran, torch.library may be the student's: then the static rule alone
            library = torch.library.Library("aten", "IMPL")
            with warnings.catch_warnings():  # "overriding a previously registered kernel"
                warnings.simplefilter("ignore")
                for name, operator in _WINDOWING_OPERATORS.items():
                    library.impl(name, self._noting(f"aten::{name.partition('.')[0]}", operator), "ADInplaceOrView")
        except Exception:
            return
        self.library = library

    def uninstall(self):
        if self.library is not None:
            library, self.library = self.library, None
            library._destroy()

    def _noting(self, route, operator):
        below = torch._C._AutoDispatchBelowADInplaceOrView

        def note_then_compute(*args, **kwargs):
            if self.armed and self.route is None:
                self.route = route
            with below():
                return operator(*args, **kwargs)
        return note_then_compute


def build_module(spec):
    """A torch.nn module from a JSON spec: ["Sequential", [[name, args, kwargs], ...]] or [name, args, kwargs]."""
    name, *rest = spec
    if name == "Sequential":
        return nn.Sequential(*(build_module(layer) for layer in rest[0]))
    layer = getattr(nn, name)
    if not (isinstance(layer, type) and issubclass(layer, nn.Module)):
        raise TypeError(f"torch.nn.{name} is not a module")
    args = rest[0] if rest else []
    kwargs = rest[1] if len(rest) > 1 else {}
    return layer(*args, **kwargs)


def describe_error(exc):
    """An exception as data: its type, message and the lines of student cells it passed through."""
    where = []
    for error in _chain(exc):
        for frame, line in traceback.walk_tb(error.__traceback__):
            name = frame.f_code.co_filename
            if isinstance(name, str) and name.startswith(_CELL_PREFIX):
                where.append(f"{name[len(_CELL_PREFIX):-1]}, line {line}")
    if isinstance(exc, SyntaxError) and isinstance(exc.filename, str) and exc.filename.startswith(_CELL_PREFIX):
        where.append(f"{exc.filename[len(_CELL_PREFIX):-1]}, line {exc.lineno}")
    try:
        message = str(exc)
    except BaseException:
        message = "(the exception's message could not be read)"
    return {"type": type(exc).__name__[:200], "message": message[:2000], "where": [w[:200] for w in where[-5:]],
            "builtin_classes": _builtin_classes(type(exc))}


def _builtin_classes(cls):
    """The names of the builtin exception classes `cls` derives from (itself included), for the
    trusted side to judge isinstance by: `class ShapeError(ValueError)` gives ValueError,
    Exception and BaseException. The names are data like any other the sandbox sends; a class
    that claims a base it does not have claims only what a subclass of that base, which the
    student could have written, would make true."""
    try:
        return [c.__name__ for c in cls.__mro__
                if c.__module__ == "builtins" and issubclass(c, BaseException)][:32]
    except BaseException:
        return []


def _chain(exc):
    """`exc` and the exceptions it chains, in the order Python prints them (causes first)."""
    chain, seen = [], set()
    while isinstance(exc, BaseException) and id(exc) not in seen and len(chain) < 20:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ if exc.__cause__ is not None else (
            None if exc.__suppress_context__ else exc.__context__)
    return chain[::-1]


# -- the shell the program runs in ---------------------------------------------------

class _CellCompiler(CachingCompiler):
    """Names each cell's code `<cell LABEL>` (errors and notes then name the cell); IPython's
    cache() puts the source in linecache under that name, where inspect and TorchScript look."""

    label = "?"

    def get_code_name(self, raw_code, transformed_code, number):
        return f"{_CELL_PREFIX}{self.label}>"


class SandboxShell(InteractiveShell):
    """IPython's shell as a kernel has it, except what needs a program of its own: a shell
    escape (`!cmd`, `%sx`, `%pip`) or a script cell magic (`%%bash`) does not run, and is
    recorded in `skipped` with its cell and line, for the feedback."""

    def init_instance_attrs(self):
        super().init_instance_attrs()
        self.skipped = []

    def _showtraceback(self, etype, evalue, stb):
        """Tracebacks go to stderr, as a kernel sends them beside the output: what comes back
        as the program's output is what it printed (each error is in the notes already)."""
        print(self.InteractiveTB.stb2text(stb), file=sys.stderr)

    def enable_gui(self, gui=None):
        """No event loop to start: `%matplotlib inline` (and agg) draw without one."""

    def system_piped(self, cmd):
        self._skip(cmd)
        self.user_ns["_exit_code"] = 127

    system = system_raw = system_piped

    def getoutput(self, cmd, split=True, depth=0):
        self._skip(cmd)
        return SList() if split else LSString("")

    def run_cell_magic(self, magic_name, line, cell):
        magic = self.find_cell_magic(magic_name)
        if type(getattr(magic, "__self__", None)).__name__ == "ScriptMagics":
            self._skip(f"%%{magic_name} {line}".strip())
            return None
        return super().run_cell_magic(magic_name, line, cell)

    def _skip(self, command):
        label, line = _student_line()
        self.skipped.append({"cell": label, "line": line, "command": str(command)[:200]})


def _student_line():
    """The cell and line of the innermost student frame on the stack."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if isinstance(name, str) and name.startswith(_CELL_PREFIX):
            return name[len(_CELL_PREFIX):-1], frame.f_lineno
        frame = frame.f_back
    return None, None


_shell = None


def sandbox_shell():
    """The process's one shell (IPython's display() and `%matplotlib inline` find it as the
    singleton), made on first use; a zygote makes it before forking, so its children only
    copy it. Its history is kept in memory only, and its namespace is `__main__`."""
    global _shell
    if _shell is None:
        config = Config()
        config.HistoryManager.hist_file = ":memory:"  # In and Out as in a kernel; no file, no saving thread
        config.InteractiveShell.colors = "nocolor"  # what the program prints is shown as text
        config.InteractiveShell.xmode = "Plain"  # tracebacks without source context: cheap
        main = types.ModuleType("__main__")
        with _scratch_ipython_dir() as ipython_dir:
            _shell = SandboxShell.instance(config=config, user_module=main, ipython_dir=ipython_dir)
        _shell.compile = _CellCompiler()
        sys.modules["__main__"] = main
    return _shell


@contextlib.contextmanager
def _scratch_ipython_dir():
    """The shell makes a profile folder when it starts: in a scratch folder, removed again
    (a zygote must not write into the grader's home; a sandbox makes it anew in its /tmp if
    a magic ever needs it)."""
    folder = tempfile.mkdtemp(prefix="convgrade-ipython-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def seed_everything(seed):
    """The same generators in the same state: before the program, and again in every check."""
    random.seed(seed)
    numpy.random.seed(seed % 2**32)
    # torch.manual_seed's CPU and CUDA parts, without its other backends: in a fresh check
    # process it imported and touched enough of torch to cost ~2.4 ms a check (~1 ms here)
    torch.default_generator.manual_seed(seed)
    if torch.version.cuda is not None:  # lazily, if this process ever starts CUDA
        torch.cuda.manual_seed_all(seed)


def _generators_free():
    """Wait until no other thread holds the generators' locks that a check's process takes
    first when it seeds them (`seed_everything`): torch's CPU generator (get_state takes its
    lock without letting go of the interpreter lock) and numpy's legacy generator."""
    with numpy.random.mtrand._rand._bit_generator.lock:
        pass
    torch.default_generator.get_state()


def _fork(run_child, before=None):
    if before is not None:
        before()
    pid = os.fork()
    if pid == 0:
        run_child()
    return pid


def serve_submission(control, fork=_fork, isolate=None, prepare=None):
    """E: run the program when asked, then fork one fresh process per request.

    `fork(run_child)` creates a check process that runs `run_child()` (the sandbox's is
    grader.untrusted.jail.fork_check: pid 1 of a PID namespace of its own);
    `isolate(keep_fds)` locks a new check process down further; `prepare()` runs once in E
    before the first (what every copy would otherwise do at its start: jail.prepare_copies).
    """
    header, tensors = wire.receive(control)
    _kernel_environment()
    child = Child(progress=functools.partial(_report_progress, control))
    reply = answer(child, header, tensors)
    seed = child.seed  # as the program was seeded: every check starts from the same generators
    sys.stdout.flush()
    sys.stderr.flush()
    jail.release_writable_files([0, 1, 2, control.fileno()])  # lets the freeze remount read-only
    wire.send(control, *reply)
    _forget_student_hooks()
    if prepare is not None:
        prepare()
    child.kernels.install()  # once here, not in every check process forked below
    # Out of the collector's sight: a collection in a check would otherwise write to every
    # object's header and copy most of E's heap into that check's process.
    gc.freeze()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 16, 1)
        except OSError:
            return
        if not message:
            return
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue
        fork(functools.partial(_check_process, child, control, fds[0], seed, isolate), before=_generators_free)
        os.close(fds[0])


def _kernel_environment():
    """What a Jupyter kernel has that a bare process lacks: its working directory on the
    import path (a `%%writefile helpers.py` cell, then `import helpers`), and matplotlib's
    non-interactive backend (no display here)."""
    os.environ["MPLBACKEND"] = "agg"
    if "" not in sys.path:
        sys.path.insert(0, "")


def _report_progress(control, label):
    """Tell the trusted side which cell starts now (a program that runs out of time is then
    reported with the cell that was running)."""
    try:
        wire.send(control, {"running": str(label)[:200]})
    except (OSError, ValueError):
        pass


def _forget_student_hooks():
    """Undo what the program may have left to run inside E between checks: signal handlers,
    timers, tracing, GC callbacks. (Best effort: E never judges anything either way.)"""
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    signal.setitimer(signal.ITIMER_PROF, 0)
    for signum in range(1, signal.NSIG):
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(signum, signal.SIG_IGN if signum == signal.SIGCHLD else signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    gc.callbacks.clear()
    sys.settrace(None)
    sys.setprofile(None)


def _check_process(child, control, call_fd, seed, isolate):
    """C: a fresh copy of the executed notebook that answers one check's calls, then exits."""
    try:
        control.close()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # what student code prints during hidden checks is not kept
            os.dup2(devnull, fd)
        os.close(devnull)
        if isolate is not None:
            isolate([0, 1, 2, call_fd])
        seed_everything(seed)
        sock = socket.socket(fileno=call_fd)
        wire.send(sock, {"hello": True})
        serve(child, sock)
    finally:
        os._exit(0)


def serve(child, sock):
    """Answer requests until the trusted side hangs up."""
    while True:
        try:
            header, tensors = wire.receive(sock)
        except EOFError:
            return
        header, tensors = answer(child, header, tensors)
        try:
            frame = wire.pack(header, tensors)
        except BaseException as exc:
            frame = wire.pack({"payload": wire.encode({"ok": False, "error": describe_error(exc)}, {})}, {})
        sock.sendall(frame)


def answer(child, header, tensors):
    """One request in, one reply out, both as wire data (header, tensors)."""
    try:
        reply = {"ok": True, "value": child.handle(header, tensors)}
    except BaseException as exc:
        reply = {"ok": False, "error": describe_error(exc)}
    out = {}
    try:
        payload = wire.encode(reply, out)
    except BaseException as exc:
        out = {}
        payload = wire.encode({"ok": False, "error": describe_error(exc)}, out)
    return {"payload": payload}, out
