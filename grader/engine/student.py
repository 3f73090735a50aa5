"""The `student` the hidden suites test: a trusted proxy for code that runs in the sandbox.

    out = student.corr2d(X, K)                       # a plain torch.Tensor, rebuilt here
    r = student.run("corr2d", X, K, backward=G)
    r.result, r.input_grads, r.args_after             # every call returns its arguments after
    conv = student.Conv2D((1, 2))                    # a RemoteObject
    conv.parameters(), conv.load({"weight": W}), conv(X), conv.run(X, backward=G)
    student.fresh().corr2d(X, K)                     # in a fresh copy of the executed notebook
    student.source("corr2d")                         # the student's cell, from the notebook
    student.code()                                   # every cell the student wrote, joined
    student.cells()                                  # [(label, source)]: the program, in run order

Each hidden check talks to its own fresh copy of the executed notebook (the runner calls
`begin_check`); a comparison with another of the student's functions goes through
`fresh()`, so nothing the check's own calls did can leak into it.

Every process in the sandbox belongs to the student, whatever it claims to be. What comes
back is checked in two places only: grader.wire (the format: sizes, dtypes, devices,
handles, before anything is built) and here (the shape of each reply: a call's result,
the program's report, a module's parameters, with every reported shape bounded by
wire.MAX_ELEMENTS before a suite can allocate from it). Whatever goes wrong on the other
side arrives as a `StudentError` whose message a student can act on and says what really
happened; every string that comes from the sandbox is cut to a fixed length.
"""

import builtins
import dataclasses
import re

import torch

from grader import wire
from grader.engine.sandbox import SandboxFailure


class StudentError(Exception):
    """The student's code raised, crashed, hung, or is missing."""

    def __init__(self, message, type_name="", kind="raised", classes=(), route=""):
        super().__init__(message)
        self.type_name = type_name
        self.kind = kind  # "raised", "missing", "timeout", "crash", "budget", "protocol"
        self.classes = tuple(classes)  # the builtin exception classes it derives from, as sent
        self.route = route  # what a noted kernel names (grader.untrusted.child.ForbiddenKernel)

    def is_a(self, expected):
        """Whether the student's code raised an instance of the builtin exception class
        `expected` (ValueError, NotImplementedError...), judged as isinstance would: from the
        names of the builtin classes the exception derives from, as the sandbox reported them,
        each looked up here among Python's own builtins. A subclass the student wrote
        (`class ShapeError(ValueError)`) is a ValueError."""
        if self.kind != "raised":
            return False
        return any(issubclass(builtin, expected) for builtin in map(_builtin_exception, self.classes)
                   if builtin is not None)

    @classmethod
    def from_child(cls, error, what):
        error = error if isinstance(error, dict) else {}
        type_name = clip(error.get("type"), 80) or "an exception"
        classes = error.get("builtin_classes")
        classes = [c for c in classes[:32] if isinstance(c, str)] if isinstance(classes, list) else []
        message = clip(error.get("message"), 400)
        where = [clip(w, 80) for w in error.get("where", [])[-3:]] if isinstance(error.get("where"), list) else []
        at = f" at {where[-1]}" if where else ""
        text = f"{what} raised {type_name}{at}: {message}" if message else f"{what} raised {type_name}{at}"
        if cls("", classes=classes).is_a(NotImplementedError):
            text += " (the exercise is not written yet: replace the `raise NotImplementedError()` line)"
        return cls(text, type_name=type_name, classes=classes, route=clip(error.get("message"), 80))


def _builtin_exception(name):
    """Python's builtin exception class of that name, or None."""
    found = getattr(builtins, name, None) if name.isidentifier() else None
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clip(value, limit):
    """A string from the sandbox, safe to show: control characters escaped, at most `limit` long."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text[: limit * 4])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_call(what, args=(), kwargs=None):
    """`corr2d(X of shape (5, 7), K = [[1.0, -1.0]])`: a call as a student can reproduce it."""
    parts = [_describe_argument(a) for a in args]
    parts += [f"{k}={_describe_argument(v)}" for k, v in (kwargs or {}).items()]
    return f"{what}({', '.join(parts)})"


def rounded_values(tensor):
    """A tensor's values as nested lists, each to 4 significant digits (1.4264883995056152 is
    1.426, 2.0 is 2): the one way values are shown in a message (grader.engine.checks.describe)."""
    def rounded(value):
        value = float(f"{value:.4g}")
        return int(value) if value.is_integer() and abs(value) < 1e6 else value

    def walk(value):
        return [walk(v) for v in value] if isinstance(value, list) else rounded(value)
    return walk(tensor.detach().cpu().tolist())


def _describe_argument(value):
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        if value.numel() <= 8:
            return f"tensor({rounded_values(value)}, dtype={dtype})"
        return f"a {dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, (RemoteObject, wire.Handle)):
        return f"your {getattr(value, 'type_name', 'object')}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclasses.dataclass
class CallResult:
    result: object
    input_grads: list = None
    param_grads: dict = None
    args_after: list = None


class Student:
    def __init__(self, sandbox, sources, code="", fresh=False, cells=None):
        self._sandbox = sandbox
        self._sources = sources
        self._code = code
        self._cells = cells
        self._fresh = fresh
        self._broken = {}  # what -> why: calls that hung or crashed are not tried again
        self._checked_program = (None, None)  # (the program's reply, its checked report)
        self._guarded = frozenset()
        self._refused = []  # [(exercise, route)]: torch kernels the guarded calls reached

    def guard(self, exercises):
        """Calls of these exercises (those with the forbidden-shortcut rule) report the torch
        convolution, pooling or unfold kernels they reach (grader.untrusted.child.KernelGuard)."""
        self._guarded = frozenset(exercises)

    def refused_kernels(self):
        """The (exercise, route) pairs reached since the last time this was asked, once each:
        forbidden shortcuts found at run time (the runner hands them to the exercise's rule check)."""
        refused, self._refused[:] = list(dict.fromkeys(self._refused)), []
        return refused

    def expect_checks(self, count):
        """The run ahead holds `count` checks (the sandbox forks no more check processes ahead
        than it will use)."""
        expect = getattr(self._sandbox, "expect_checks", None)
        if expect is not None:
            expect(count)

    def begin_check(self):
        """The next call starts from the executed notebook again, in a fresh process: the runner
        calls this before each check; a check calls it where a reference takes several calls (a
        module built, loaded, called) and must come from a copy that has not run the calls it
        judges (`fresh()` gives each single call such a copy)."""
        self._sandbox.new_check()

    def fresh(self):
        """The same student, each call of which runs in its own fresh copy of the executed notebook."""
        view = Student(self._sandbox, self._sources, self._code, fresh=True, cells=self._cells)
        view._broken, view._guarded, view._refused = self._broken, self._guarded, self._refused
        return view

    # -- what the notebook defines ---------------------------------------------------

    def source(self, name):
        """The source of the student's answer cell for `name`, or None."""
        return self._sources.get(name)

    def exercises(self):
        """The names of the notebook's answer cells."""
        return set(self._sources)

    def code(self):
        """Every cell the student wrote (answers and added cells), joined: for static checks."""
        return self._code

    def cells(self):
        """Every cell of the program as [(label, source)], in the order they run: for static
        checks (grader.engine.shortcuts). Without the program's cells, the student's code, cell by cell."""
        if self._cells is not None:
            return [(c["id"], c["source"]) for c in self._cells]
        from grader.course.notebook import CELL_SEPARATOR

        return [(f"cell {i}", part) for i, part in enumerate(self._code.split(CELL_SEPARATOR), start=1)]

    def defines(self, name):
        return name in self._program()["names"]

    def cell_error(self, cell_id):
        for cell in self._program()["cells"]:
            if cell["id"] == cell_id and not cell["ok"]:
                return cell["error"]
        return None

    def _program(self):
        try:
            self._sandbox.ensure_started()
        except SandboxFailure as failure:
            raise StudentError(f"your notebook could not be run: {failure}", kind=failure.kind) from None
        reply = self._sandbox.program
        if reply["ok"] is not True:
            raise StudentError.from_child(reply.get("error"), "running your notebook")
        if self._checked_program[0] is not reply:
            try:
                self._checked_program = (reply, _program_report(reply.get("value")))
            except wire.WireError as exc:
                raise StudentError(f"running your notebook: {clip(str(exc), 300)}", kind="protocol") from None
        return self._checked_program[1]

    def program_errors(self):
        """[(cell label, error)] for every cell of the program that raised."""
        try:
            cells = self._program()["cells"]
        except StudentError:
            return []
        return [(clip(c["id"], 80), c["error"]) for c in cells if not c["ok"]]

    # -- calls -----------------------------------------------------------------------

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.run(name, *args, **kwargs).result

    def run(self, name, *args, backward=None, return_args=False, no_grad=False, timeout=None, **kwargs):
        self._require(name)
        return self._call(name, name, None, args, kwargs, backward, no_grad, timeout,
                          guard=name in self._guarded)

    def torch_module(self, spec):
        """Build a torch.nn module (JSON spec, see grader.untrusted.child.build_module) in the sandbox."""
        return self._ask("make_module", {"spec": spec}, "building a torch module")

    def _require(self, name):
        if self.defines(name):
            return
        error = self.cell_error(name)
        hint = f"; {StudentError.from_child(error, f'the cell `{name}`')}" if error else ""
        raise StudentError(f"your notebook does not define `{name}`{hint}", kind="missing")

    def _call(self, what, target, method, args, kwargs, backward, no_grad, timeout, guard=False):
        call = describe_call(what, args, kwargs)
        args, kwargs = _handles(tuple(args)), _handles(kwargs)
        payload = {"target": target, "method": method, "args": args, "kwargs": kwargs,
                   "backward": backward, "no_grad": no_grad}
        if guard:
            payload["guard"] = True
        try:
            value = self._ask("call", payload, f"`{what}`", timeout, call=call, expect=_call_report)
        except StudentError as error:
            if guard and error.type_name == "ForbiddenKernel":
                self._refused.append((what, error.route))
            raise
        refused = value.pop("forbidden")
        if guard and refused is not None:
            self._refused.append((what, clip(refused, 80)))
        return CallResult(**value)

    def _ask(self, op, payload, what, timeout=None, call=None, expect=None):
        """One request; its reply's value, checked by `expect(value)` (a WireError when the
        sandbox sent something else) and with sandbox objects as RemoteObjects."""
        if what in self._broken:
            raise StudentError(f"{what} was not run again: earlier it {self._broken[what]}", kind="skipped")
        try:
            reply = self._sandbox.request(op, payload, timeout, fresh=self._fresh)
        except SandboxFailure as failure:
            if failure.kind in ("timeout", "crash"):
                self._broken[what] = "timed out" if failure.kind == "timeout" else "crashed the sandbox"
            raise StudentError(f"{call or what}: {failure}", kind=failure.kind) from None
        if reply["ok"] is not True:
            raise StudentError.from_child(reply.get("error"), call or what)
        try:
            value = expect(reply.get("value")) if expect else reply.get("value")
        except wire.WireError as exc:
            raise StudentError(f"{call or what}: {clip(str(exc), 300)}", kind="protocol") from None
        return self._wrap(value)

    def _wrap(self, value):
        if isinstance(value, wire.Handle):
            return RemoteObject(self, value)
        if isinstance(value, str):
            return clip(value, wire.MAX_STRING_CHARS)
        if isinstance(value, (list, tuple)):
            return type(value)(self._wrap(v) for v in value)
        if isinstance(value, dict):
            return {self._wrap(k): self._wrap(v) for k, v in value.items()}
        return value


class RemoteObject:
    """An object (usually an nn.Module) that lives in the sandbox."""

    def __init__(self, student, handle):
        self._student = student
        self.handle = handle
        self.type_name = handle.type_name

    def __call__(self, *args, **kwargs):
        return self.run(*args, **kwargs).result

    def run(self, *args, backward=None, return_args=False, no_grad=False, timeout=None, **kwargs):
        return self._student._call(f"{self.type_name}.forward", self.handle, None, args, kwargs,
                                   backward, no_grad, timeout)

    def method(self, name, *args, **kwargs):
        return self._student._call(f"{self.type_name}.{name}", self.handle, name, args, kwargs,
                                   None, False, None).result

    def parameters(self):
        """{"parameters": [{name, shape, dtype, requires_grad}], "plain_tensors": [attribute names]}"""
        return self._ask("parameters", expect=_parameter_report)

    def state(self):
        return self._ask("state", expect=_state_report)

    def load(self, state):
        """Copy tensors into the parameters of the same names; returns names it has no parameter for."""
        return self._ask("load", state=state, expect=lambda v: _names(v, "the names it has no parameter for"))

    def children(self):
        return self._ask("children", expect=_children_report)

    def to(self, device=None, dtype=None):
        self._ask("to", device=str(device) if device is not None else None, dtype=dtype)
        return self

    def _ask(self, op, expect=None, **payload):
        return self._student._ask(op, {"target": self.handle, **payload}, f"{self.type_name}.{op}", expect=expect)

    def __repr__(self):
        return f"<student's {self.type_name} in the sandbox>"


# -- what each reply must look like -------------------------------------------------------
# Each takes a decoded reply value and returns it checked (and normalised), or raises
# wire.WireError saying what the sandbox sent instead.

MAX_ITEMS = 1000  # parameters, children, cells, names: a course notebook has tens


def _call_report(value):
    value = _dict(value, "a call's reply")
    if "result" not in value:
        raise wire.WireError("the sandbox's reply to a call has no result")
    return {"result": value["result"],
            "input_grads": _optional(value.get("input_grads"), list, "the input gradients"),
            "param_grads": _optional(value.get("param_grads"), dict, "the parameter gradients"),
            "args_after": _optional(value.get("args_after"), list, "the arguments after the call"),
            "forbidden": _optional(value.get("forbidden"), str, "the refused kernel")}


def _parameter_report(value):
    value = _dict(value, "the parameter list")
    parameters = []
    for entry in _bounded_list(value.get("parameters"), "the parameters"):
        entry = _dict(entry, "a parameter")
        name = _name(entry.get("name"), "a parameter's name")
        dtype = entry.get("dtype")
        if not isinstance(dtype, torch.dtype):
            raise wire.WireError(f"the parameter `{name}` came without a dtype")
        parameters.append({"name": name, "shape": wire.checked_shape(entry.get("shape"), f"the parameter `{name}`"),
                           "dtype": dtype, "requires_grad": entry.get("requires_grad") is True})
    return {"parameters": parameters, "plain_tensors": _names(value.get("plain_tensors"), "the plain tensors")}


def _state_report(value):
    state = _dict(value, "the state")
    if len(state) > MAX_ITEMS:
        raise wire.WireError(f"the sandbox sent a state of {len(state)} entries; at most {MAX_ITEMS} are accepted")
    for key, tensor in state.items():
        _name(key, "a state entry's name")
        if not isinstance(tensor, torch.Tensor):
            raise wire.WireError(f"the state entry `{clip(key, 80)}` is not a tensor")
    return state


def _children_report(value):
    children = []
    for entry in _bounded_list(value, "the layers"):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
            raise wire.WireError("the sandbox sent a layer that is not a (name, type) pair")
        children.append((_name(entry[0], "a layer's name"), _name(entry[1], "a layer's type")))
    return children


def _program_report(value):
    value = _dict(value, "the report on the notebook's cells")
    cells = []
    for cell in _bounded_list(value.get("cells"), "the cells"):
        cell = _dict(cell, "a cell's report")
        ok = cell.get("ok") is True
        cells.append({"id": _name(cell.get("id"), "a cell's id"), "ok": ok,
                      "error": None if ok else _dict(cell.get("error") or {}, "a cell's error")})
    names = _dict(value.get("names"), "the names the notebook defines")
    if len(names) > 10 * MAX_ITEMS:
        raise wire.WireError(f"the sandbox reported {len(names)} names; at most {10 * MAX_ITEMS} are accepted")
    kinds = {_name(k, "a defined name"): clip(v, 20) for k, v in names.items()}
    return {"cells": cells, "names": kinds}


def _dict(value, what):
    if not isinstance(value, dict):
        raise wire.WireError(f"the sandbox sent {type(value).__name__} for {what}, not a dict")
    return value


def _optional(value, kind, what):
    if value is not None and not isinstance(value, kind):
        raise wire.WireError(f"the sandbox sent {type(value).__name__} for {what}")
    return value


def _bounded_list(value, what):
    if not isinstance(value, (list, tuple)):
        raise wire.WireError(f"the sandbox sent {type(value).__name__} for {what}, not a list")
    if len(value) > MAX_ITEMS:
        raise wire.WireError(f"the sandbox sent {len(value)} entries for {what}; at most {MAX_ITEMS} are accepted")
    return value


def _names(value, what):
    return [_name(v, what) for v in _bounded_list(value, what)]


def _name(value, what):
    if not isinstance(value, str):
        raise wire.WireError(f"the sandbox sent {type(value).__name__} for {what}, not a string")
    return clip(value, 200)


def _handles(value):
    """RemoteObjects passed as arguments travel as the handles they are."""
    if isinstance(value, RemoteObject):
        return value.handle
    if isinstance(value, (list, tuple)):
        return type(value)(_handles(v) for v in value)
    if isinstance(value, dict):
        return {k: _handles(v) for k, v in value.items()}
    return value


def plain_tensor(value):
    """True for a tensor rebuilt from wire data (never a student's subclass)."""
    return type(value) is torch.Tensor
