"""The sandboxed side of a submission: run the program once, then a fresh process per check.

    zygote --fork--> E: locked down; runs the notebook's program once, seeded
                     E --fork--> C1: answers the calls of hidden check 1, then is killed
                     E --fork--> C2: answers check 2, from the same executed state, same seed
                     ...

Every check therefore starts from the same state (the executed notebook, the same seed),
and nothing one check's calls do reaches another: a C is a copy of E that can create no
process, write no file (the trusted side makes the writable mounts read-only once the
program has run) and keeps no descriptor but its own call socket. E itself answers only
"fork": it never runs a check.

Everything here is untrusted from the moment the first student cell runs: the student may
have replaced any function, torch's included. So this code decides nothing. It returns
values, errors and gradients as plain data (grader.wire), and the trusted side rebuilds and
judges them. The trusted side also checks, with the kernel's SCM_CREDENTIALS, that every
reply comes from the fresh process it asked for.
"""

import contextlib
import functools
import gc
import os
import random
import signal
import socket
import sys

import numpy
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from grader import wire
from grader.untrusted import audit, jail

_CELL_PREFIX = "<cell "


class Child:
    def __init__(self, namespace=None):
        self.namespace = namespace if namespace is not None else {"__name__": "__main__",
                                                                  "__builtins__": __builtins__}
        self.objects = {}

    # -- the program ---------------------------------------------------------------

    def run_program(self, cells):
        report = []
        for cell in cells:
            report.append({"id": cell["id"], **self._run_cell(cell)})
        return {"cells": report, "names": self._describe_names()}

    def _run_cell(self, cell):
        try:
            code = compile(cell["source"], f"{_CELL_PREFIX}{cell['id']}>", "exec")
            exec(code, self.namespace)
        except BaseException as exc:  # a student's SystemExit must not end the child
            return {"ok": False, "error": describe_error(exc)}
        return {"ok": True}

    def _describe_names(self):
        kinds = {}
        for name, value in list(self.namespace.items()):
            if name.startswith("_"):
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
        seed_everything(seed)
        return self.run_program(cells)

    def op_call(self, target, args=(), kwargs=None, method=None, backward=None, no_grad=False,
                watch_ops=(), exempt=()):
        function = self._callable(target, method)
        if backward is not None and isinstance(target, nn.Module):
            target.zero_grad(set_to_none=True)
        grad_context = torch.no_grad() if no_grad else torch.enable_grad()
        recorder = _OpRecorder(watch_ops)
        with grad_context, recorder, self._unwatched(exempt, recorder):
            result = function(*args, **(kwargs or {}))
        reply = {"result": self._keep(result), "ops": sorted(recorder.seen)}
        if backward is not None:
            reply.update(self._backward(target, result, backward, args, kwargs or {}))
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

    @contextlib.contextmanager
    def _unwatched(self, names, recorder):
        """While the call runs, the functions in `names` (other exercises, judged by their own
        checks) run with the recorder paused."""
        originals = {n: self.namespace[n] for n in names if callable(self.namespace.get(n))}
        for name, function in originals.items():
            self.namespace[name] = recorder.paused_around(function)
        try:
            yield
        finally:
            self.namespace.update(originals)

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
        """Objects that are not data stay here; the trusted side gets a handle."""
        if isinstance(value, (torch.Tensor, torch.Size, torch.dtype, bool, int, float, str,
                              type(None), wire.Handle)):
            return value
        if isinstance(value, (list, tuple)):
            return type(value)(self._keep(v) for v in value)
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


class _OpRecorder(TorchDispatchMode):
    """Notes which of the watched aten operations a call reaches (grader.shortcuts)."""

    def __init__(self, watch):
        super().__init__()
        self.watch = frozenset(str(w) for w in watch)
        self.seen = set()
        self.paused = 0

    def paused_around(self, function):
        @functools.wraps(function)
        def unwatched(*args, **kwargs):
            self.paused += 1
            try:
                return function(*args, **kwargs)
            finally:
                self.paused -= 1
        return unwatched

    def __enter__(self):
        return super().__enter__() if self.watch else self

    def __exit__(self, *exc):
        return super().__exit__(*exc) if self.watch else None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in self.watch and not self.paused:
            self.seen.add(name)
        return func(*args, **(kwargs or {}))


def _flatten(value):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    else:
        yield value


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
    """An exception as data: its type, message and the traceback lines of student cells."""
    # read through CPython's own traceback printer: the audit hook refuses frame access
    frames = [(name, line) for name, line in audit.traceback_locations(exc) if name.startswith(_CELL_PREFIX)]
    where = [f"{name[len(_CELL_PREFIX):-1]}, line {line}" for name, line in frames]
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith(_CELL_PREFIX):
        where.append(f"{exc.filename[len(_CELL_PREFIX):-1]}, line {exc.lineno}")
    try:
        message = str(exc)
    except BaseException:
        message = "(the exception's message could not be read)"
    return {"type": type(exc).__name__[:200], "message": message[:2000], "where": [w[:200] for w in where[-5:]]}


def seed_everything(seed):
    """The same generators in the same state: before the program, and again in every check."""
    random.seed(seed)
    numpy.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def serve_submission(control, fork=os.fork, isolate=None):
    """E: run the program when asked, then fork one fresh process per request.

    `fork` creates a check process (grader.untrusted.syscalls.grader_fork where the seccomp
    filter allows only that); `isolate(keep_fds)` locks a new check process down further.
    """
    header, tensors = wire.receive(control)
    seed = int((header.get("payload") or {}).get("seed", 0)) if isinstance(header.get("payload"), dict) else 0
    child = Child()
    reply = answer(child, header, tensors)
    sys.stdout.flush()
    sys.stderr.flush()
    jail.release_writable_files([0, 1, 2, control.fileno()])  # lets the freeze remount read-only
    wire.send(control, *reply)
    _forget_student_hooks()
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
        if fork() == 0:
            _check_process(child, control, fds[0], seed, isolate)
        os.close(fds[0])


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
    gc.callbacks.clear()  # (tracing and profiling hooks the audit hook never let it set)


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
