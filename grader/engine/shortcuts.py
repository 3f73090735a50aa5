"""Forbidden shortcuts: torch doing the exercise for the student, decided on the trusted side
from the notebook's source, failing closed.

What counts is the code the exercise function *reaches* when it is called:

- its body, the helpers it calls (transitively), the names it reads from the notebook's
  globals (every statement anywhere in the program that binds such a name: a rebinding like
  `corr2d = F.conv2d` is the exercise itself), its default arguments and decorators, and for
  a class its body and methods;
- code elsewhere that can change what it reads: a statement that stores into, calls a method
  of, aliases, or hands to a function of the notebook one of those globals, and the
  arguments of every call of a reached function (a value stashed through a call would
  otherwise go unseen). That code is read at the VALUE level: what it calls only makes
  values and is not held against the exercise; what it keeps uncalled (a function, a
  module, a lambda, whose body is then reached code) is.

Never reached: test code at the top level of a cell (comparing with F.conv2d, as the
notebooks themselves do), a global the function shadows with a local (Python's scoping
rules, below), names of an import line the reached code does not use.

What the reached code uses is judged by what it IS, not how it is spelled. Every dotted name
it reads (`F.conv2d`, `typing.operator.attrgetter`, a name bound by `from x import y as z`, a
global bound by a plain `F = torch.nn.functional`) is resolved on the trusted side: the first
module imported (torch, numpy, scipy and the standard library only: the student's code never
runs here), each attribute read with getattr on the real object, so a module that re-exports
another (`logging.sys`, `os.path.sys`, `dataclasses.inspect`, `typing.operator`) resolves to
that module. The objects the name passes through are then held against identity sets built
once from the real namespaces (`_Identities`):

- a *windowing* object, by the name the object gives itself (not the spelling): torch's,
  numpy's or scipy's convolution, pooling, unfold, fold, im2col, short-time FFT or correlation, a
  torch Python function that calls one (F.interpolate's "area" mode is a pooling), a
  functools.partial of one, and any name the suite lists: a *forbidden shortcut*;
- an *allowed* object: every public callable of the namespaces walked (torch's C tensor
  functions and torch.functional, torch.nn.functional, torch.linalg, torch.special,
  torch.fft, torch.nn.init, the methods of Tensor, Size, dtype, device, nn.Module, nn.Parameter, math,
  itertools, operator, collections, typing, numpy, ...), a few listed functions
  (functools.reduce/partial, the `_single`/`_pair`/`_triple`/`_quadruple` helpers nn.Conv2d
  uses), pure builtins, and plain constants (numbers, strings, dtypes). A module object is
  never allowed as a whole: `m = math` handed on as a value is judged like any unlisted
  object (a plain alias assignment is not judged: its uses are, through the alias);
- an *escape*, anywhere along the chain: what looks up attributes or modules by a value
  computed at run time or reaches torch's internals (`importlib`, `inspect`, `pydoc`,
  `pkgutil`, `types`, `sys.modules`, `sys._getframe`, `operator.attrgetter`/`methodcaller`,
  `string.Formatter`, `typing.get_type_hints`, `torch._C`, `torch.ops`, `torch._refs`,
  `torch.library`, `torch.fx`, `torch.jit` but for `torch.jit.script`, ...): a *forbidden
  shortcut*, since the grader cannot tell it from one; so is a builtin that computes names
  (`getattr` with a computed name, `exec`, `eval`, `vars`, `__import__`), a special attribute
  (`__dict__`, `__class__`), Jupyter's output history (`_`, `Out`), a module the grader
  cannot read (one the notebook writes itself), and any other Python function or class whose
  code (read from its source, with the functions of its own module it names) looks up by a
  value given at run time: `__import__`, `importlib.import_module`, `getattr`/`setattr`/
  `delattr` with a computed name, `attrgetter`/`methodcaller`, `sys.modules`, `eval`/`exec`/
  `compile`, a table of names (`vars(m)`, `m.__dict__`) read by a computed key, pickle's
  loaders (`logging.config.BaseConfigurator(...).resolve`, and whatever else the standard
  library builds on them, found by that property rather than by name);
- anything else (unlisted or unresolvable: threads, another library, a private helper):
  the check fails, and only the check, with the sentence "`dedent` from textwrap is not on the
  list of operations this exercise may use; it costs this one check".

Attributes read from a value (not a module: `X.unfold`, `layer.conv2d`) cannot be resolved
statically; those whose name torch gives a windowing function or method are forbidden.

A second line runs in the sandbox and can only add findings: the calls of an exercise with the
rule run with torch's windowing operators noted at the dispatcher (grader.untrusted.child.
KernelGuard), and a route the static rule missed is reported by the exercise's rule check as a
forbidden shortcut naming the operator (grader.engine.runner). It never clears a finding.
(Tensors made under torch.inference_mode skip the dispatcher key it watches: the static rule
alone judges them.)

Anywhere in the program (not only in reached code), what can rewrite the notebook's
namespace or torch out of the grader's sight counts as a forbidden shortcut for every
exercise with such a check: `exec`/`eval`, `globals()`/`vars()`, `setattr` on anything but
`self`, `sys.modules`, a frame's globals, `__main__`, a non-constant assigned
to an attribute of an imported module (`torch.matmul = ...`), an IPython magic that runs
code the grader cannot read (`%run`).

Cells are read as Jupyter runs them: IPython's own input transformer turns magics and shell
escapes into Python first, keeping line numbers, and the code that `%time`/`%timeit`/
`%%capture` run is read too.

`apply_policy` turns a forbidden shortcut into the course's penalty (course.toml `[policy]`,
grader.course.deadlines.policy): by default every check of the exercise scores 0.
"""

import ast
import builtins
import dataclasses
import functools
import numbers
import re
import types

try:  # imported with the suites (grader.engine.grading.warm_up), not on the first submission
    from IPython.core.inputtransformer2 import TransformerManager
except ImportError:  # the grader without IPython: magics then fail to parse, and fail closed
    TransformerManager = None

# -- what the reached code may use: objects, resolved on the grader's side --------------------------

# How torch (numpy, scipy) names a function that computes a convolution, a pooling or a
# windowing. It is matched against the name an object gives itself once resolved (so
# `from torch import conv2d as mul` is still conv2d), never against how the notebook spells it.
# The FFT is not one of them (the notebooks forbid torch's convolution, pooling and unfold, and the
# correlation theorem is a computation of the student's own); the short-time transform is, as it
# slides a window.
_WINDOWING_NAME = re.compile(r"conv|pool|unfold|^fold$|^Fold$|im2col|col2im|stft|correlat|sliding_window",
                             re.IGNORECASE)
# The libraries the grader imports itself to resolve a dotted name (the standard library too,
# but for the few modules whose import does something): importing them runs their code only.
_IMPORTABLE = ("torch", "numpy", "scipy")
_NOT_IMPORTED = {"antigravity", "this", "__hello__", "__phello__", "idlelib", "turtle", "turtledemo",
                 "tkinter", "__main__"}

# What looks up attributes or modules by a value computed at run time, or reaches torch's
# internals and its tables of functions: a module here is an escape as a whole (what is
# reached through it is too, unless it is itself on the allow-list, like torch.jit.script).
_ESCAPES = ("importlib", "builtins", "ctypes", "gc", "runpy", "code", "codeop", "pickle", "marshal",
            "shelve", "copyreg", "types", "inspect", "pydoc", "pkgutil", "sys.modules", "sys._getframe",
            "operator.attrgetter", "operator.methodcaller", "string.Formatter", "typing.get_type_hints",
            "typing.ForwardRef", "torch._C", "torch.ops", "torch._ops", "torch._refs", "torch._prims",
            "torch._decomp", "torch._VF", "torch._dynamo", "torch._inductor", "torch.library",
            "torch.overrides", "torch.utils", "torch.fx", "torch.func", "torch.export", "torch.compiler",
            "torch.jit", "torch.testing._internal")
# Anywhere in the program (not only in reached code), reaching these can rewrite the notebook's
# namespace or torch; importing the second set as well.
_ESCAPES_ANYWHERE = ("sys.modules", "torch._C", "torch.ops", "torch.library", "torch.jit.CompilationUnit",
                     "gc.get_objects", "gc.get_referrers", "gc.get_referents")
_ESCAPE_IMPORTS = _ESCAPES_ANYWHERE + ("importlib", "builtins", "ctypes", "runpy", "marshal")

# The allow-list, as namespaces walked once: every public callable found there is allowed by
# identity, unless it is a windowing function (which is a forbidden shortcut wherever it is found).
_ALLOWED_SPACES = ("torch.nn.functional", "torch.nn.init", "torch.linalg", "torch.special", "torch.fft", "math",
                   "itertools", "operator", "statistics", "numbers", "copy", "random", "collections",
                   "dataclasses", "enum", "abc", "os.path", "numpy", "typing")
_ALLOWED_CLASSES = ("torch.Tensor", "torch.Size", "torch.dtype", "torch.device", "torch.Generator",
                    "torch.nn.Module", "torch.nn.Parameter", "torch.nn.ModuleList", "torch.nn.ModuleDict",
                    "torch.nn.ParameterList", "torch.nn.ParameterDict", "torch.nn.Identity")
_ALLOWED_OBJECTS = (
    "torch.finfo torch.iinfo torch.no_grad torch.enable_grad torch.set_grad_enabled torch.inference_mode "
    "torch.manual_seed torch.jit.script torch.autograd.grad torch.testing.assert_close "
    # the int-to-tuple helpers nn.Conv2d itself uses
    "torch.nn.modules.utils._single torch.nn.modules.utils._pair torch.nn.modules.utils._triple "
    "torch.nn.modules.utils._quadruple torch.nn.modules.utils._ntuple "
    "functools.reduce functools.partial functools.wraps functools.lru_cache functools.cache "
    "functools.cached_property functools.cmp_to_key functools.total_ordering "
    "warnings.warn json.dumps json.loads time.time time.perf_counter time.monotonic time.process_time "
    "os.getenv os.environ os.getpid os.cpu_count logging.getLogger logging.debug logging.info "
    "logging.warning logging.error").split()
# torch's own functions are its tensor operations: the C functions and the Python ones beside
# them (torch.functional), not its compilers and loaders.
_TORCH_PYTHON_MODULES = ("torch", "torch.functional", "torch.random", "torch._tensor")
_NOT_TENSOR_OPERATIONS = {"compile", "load", "save", "cond"}


class _Identities:
    """The objects the rule knows: allowed, forbidden (windowing) and escapes, built once by
    walking the real namespaces. Objects are compared by identity (bound methods by what they
    bind), so an alias, a re-export or an import under another name is the same object."""

    def __init__(self):
        import torch

        self._kept = []  # every object whose id is a key stays alive
        self.escapes = _Marks(_ESCAPES, self)
        self.anywhere = _Marks(_ESCAPES_ANYWHERE, self)
        self.imports = _Marks(_ESCAPE_IMPORTS, self)
        self.marked_modules = self.escapes.modules + self.anywhere.modules + self.imports.modules
        allowed = [_resolved(p) for p in _ALLOWED_OBJECTS]
        for name, value in list(vars(torch).items()):  # what is loaded: no lazy submodule imported
            if not name.startswith("_") and name not in _NOT_TENSOR_OPERATIONS and (
                    isinstance(value, types.BuiltinFunctionType)
                    or isinstance(value, types.FunctionType) and value.__module__ in _TORCH_PYTHON_MODULES):
                allowed.append(value)
        for path in _ALLOWED_SPACES:
            space = _resolved(path)
            allowed += [v for n, v in list(vars(space).items()) if not n.startswith("_")]
        for path in _ALLOWED_CLASSES:
            cls = _resolved(path)
            allowed += [cls] + [_attribute_of(cls, n) for n in dir(cls)
                                if not n.startswith("_") or n in _ALLOWED_DUNDERS]
        allowed += [getattr(builtins, n) for n in ALLOWED_BUILTINS if hasattr(builtins, n)]
        self.allowed = self._keys(o for o in allowed if callable(o) and not isinstance(o, types.ModuleType)
                                  and not self.escapes.marks([o]))

    def _keys(self, objects):
        objects = [o for o in objects if o is not None]
        self._kept += objects
        return frozenset(_key(o) for o in objects)

    def judge(self, chain, names):
        """'allowed', 'forbidden' (a windowing function), 'escape' or 'unlisted', for the
        objects a dotted name passes through (`chain`, the last one its value)."""
        value = chain[-1]
        if _windowing(value, names):
            return "forbidden"
        if _key(value) in self.allowed or _plain_data(value):
            return "allowed"
        if self.escapes.marks(chain):
            return "escape"
        return "unlisted"


class _Marks:
    """A set of dotted names, some modules (matched by the module's own name, with everything
    under it, and never imported here: torch._dynamo alone takes seconds), the rest objects
    (matched by identity)."""

    def __init__(self, paths, identities):
        import importlib.util

        self.modules, objects = [], []
        for path in paths:
            try:
                module = importlib.util.find_spec(path) is not None
            except (ImportError, ValueError):  # `sys.modules`: not a package's submodule
                module = False
            if module:
                self.modules.append(path)
            else:
                objects.append(_resolved(path))
        self.objects = identities._keys(objects)

    def marks(self, chain):
        """One of the objects a dotted name passes through is marked."""
        return any(_key(value) in self.objects or isinstance(value, types.ModuleType)
                   and _under(getattr(value, "__name__", None), self.modules) for value in chain)


def _under(name, modules):
    return isinstance(name, str) and any(name == m or name.startswith(m + ".") for m in modules)


_IDENTITIES = []


def _identities():
    if not _IDENTITIES:
        _IDENTITIES.append(_Identities())
    return _IDENTITIES[0]


def _key(value):
    """What identifies `value`: its id, or for a method bound to an object (re-made on every
    lookup, as `dict.fromkeys` or a classmethod is) the object and the method's name."""
    bound_to = getattr(value, "__self__", None)
    if isinstance(value, (types.MethodType, types.BuiltinMethodType)) and bound_to is not None \
            and not isinstance(bound_to, types.ModuleType):
        return id(bound_to), getattr(value, "__name__", None)
    return id(value)


def _attribute_of(space, name):
    try:
        return getattr(space, name)
    except Exception:  # a lazy attribute that fails to load
        return None


def _importable(root):
    import sys

    return root in _IMPORTABLE or root in sys.stdlib_module_names and root not in _NOT_IMPORTED


class _Unloaded(types.ModuleType):
    """A module the rule marks by its name (torch._dynamo, ctypes, ...), not loaded in the
    grading process, as a name in the source reaches it: never imported here, since the
    verdict on it is known without it (torch._dynamo alone takes seconds and hundreds of MiB,
    and an import runs the module's code in the process that makes every verdict). Whatever
    is read through it stands in the same way, matched by its dotted name."""


def _module(name, load):
    """The module `name`, imported where need be, or an `_Unloaded` stand-in where the rule
    knows it by name (never while building the rule's own lists: `load`); None where there
    is none."""
    import importlib
    import sys

    if name in sys.modules:
        return sys.modules[name]
    if not load and _under(name, _identities().marked_modules):
        return _Unloaded(name)
    try:
        return importlib.import_module(name)
    except Exception:
        return None


def _member(value, name, load):
    """`value.name` as the source reads it; a submodule the rule marks by name is left to
    `_module` (torch's module-level __getattr__ imports torch._dynamo when asked for it)."""
    if isinstance(value, _Unloaded):
        raise AttributeError(name)
    if isinstance(value, types.ModuleType) and not load and name not in vars(value) \
            and _under(f"{getattr(value, '__name__', '')}.{name}", _identities().marked_modules):
        raise AttributeError(name)
    return getattr(value, name)


def _chain_of(path, load=False):
    """The objects the dotted `path` passes through, resolved on the grader's side: the module
    imported (only torch, numpy, scipy and the standard library, never one the rule marks by
    name: `_module`), then each attribute read on the real object. Returns (objects,
    complete); objects is empty when the first name is not importable here."""
    parts = path.split(".")
    if not parts[0] or not _importable(parts[0]):
        return [], False
    value = _module(parts[0], load)
    if value is None:
        return [], False
    chain = [value]
    for i, part in enumerate(parts[1:], start=2):
        try:
            value = _member(value, part, load)
        except Exception:
            if not isinstance(value, types.ModuleType):
                return chain, False
            value = _module(".".join(parts[:i]), load)  # a submodule its package does not import itself
            if value is None:
                return chain, False
        chain.append(value)
    return chain, True


def _resolved(path):
    chain, complete = _chain_of(path, load=True)
    return chain[-1] if complete else None


def _windowing(value, names=()):
    """`value` is torch's (numpy's, scipy's) convolution, pooling or windowing, by the name it
    gives itself, or a Python function of theirs that calls one (F.interpolate's "area" mode
    is an adaptive pooling); a functools.partial of one is one."""
    while isinstance(value, functools.partial):
        value = value.func
    name = getattr(value, "__name__", None)
    module = getattr(value, "__module__", None)
    if not isinstance(name, str) or not isinstance(module, str) or module.split(".")[0] not in _IMPORTABLE:
        return False
    if _WINDOWING_NAME.search(name) or name in names:
        return True
    code = getattr(value, "__code__", None)
    return isinstance(code, types.CodeType) and any(_WINDOWING_NAME.search(n) for n in _code_names(code))


# -- what an unlisted function of Python looks up at run time ----------------------------------------

# The primitives that look up a module or an attribute by a value computed at run time: what an
# unlisted Python function or class is inspected for (`_runtime_lookup`). Anything built on them
# in the standard library (logging.config's resolve, pydoc.locate, pkgutil.resolve_name, ...) is
# found through them, whatever its name, so this is the short list of primitives, not of routes.
# The builtins in the first set are lookups whatever their arguments; those in the second only
# with a name computed at run time (`getattr(x, "name", None)` is a constant read).
# A table of names (`vars(x)`, `x.__dict__`) is a lookup when it is read with a key computed at
# run time (`vars(module)[name]`); `vars(self)` or `other.__dict__ == self.__dict__` (argparse's
# Namespace, copy, reprs) only compare or copy an object's own attributes.
_LOOKUP_BUILTINS = {"__import__", "eval", "exec", "compile", "globals", "breakpoint"}
_LOOKUP_BY_NAME = {"getattr", "setattr", "delattr"}
_LOOKUP_OBJECTS = ("importlib.import_module importlib.__import__ operator.attrgetter operator.methodcaller "
                   "inspect.getattr_static sys.modules pickle.loads pickle.load pickle.Unpickler "
                   "pickle._Unpickler marshal.loads").split()
_LOOKUP_ATTRIBUTES = {"find_class"}
_LOOKUP_DEPTH = 3
_LOOKUPS = {}  # (id(object), depth) -> (object, the reason or None): each object inspected once


def _runtime_lookup(value):
    """Why `value`, a Python function or class (not a builtin written in C: those keep the
    judgement of the lists above), can look up modules or attributes by a value given to it
    at run time: "it calls `__import__`"; None when it cannot. Read from its source on the
    grader's side (for a class, its body and methods), following the functions and classes of
    its own module that it names (a base class too), a few levels deep: the depth bounds the
    walk, cycles included."""
    return _lookup_in(value, _LOOKUP_DEPTH)


def _lookup_in(value, depth):
    value = getattr(value, "__func__", value)  # a bound or class method: its function
    if not isinstance(value, (types.FunctionType, type)) or depth < 0:
        return None
    if (id(value), depth) not in _LOOKUPS:  # by depth too, so the answer never depends on the order asked
        _LOOKUPS[id(value), depth] = (value, _own_lookup(value, depth))
    return _LOOKUPS[id(value), depth][1]


def _own_lookup(value, depth):
    import inspect
    import sys
    import textwrap

    module = sys.modules.get(getattr(value, "__module__", None) or "")
    space = dict(vars(module)) if module is not None else {}
    space.update(getattr(value, "__globals__", {}))
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(value)))
    except (OSError, TypeError, SyntaxError):
        # No source: a class made at run time (a namedtuple's; a dataclass's methods made by
        # exec). Its compiled code is read by the names it uses: only the primitives that look
        # up whatever their arguments count, as a name there cannot say what it is called with.
        return _compiled_lookup(value)
    # getattr(obj, "name") reads one constant attribute, and getattr(self, name) only the
    # object's own (nn.Sequential's __setitem__): neither can reach a module
    plain = {id(call.func) for call in ast.walk(tree) if isinstance(call, ast.Call) and len(call.args) >= 2
             and (isinstance(call.args[1], ast.Constant) or _is_self(call.args[0]))}
    for node in ast.walk(tree):
        reason = _keyed_table(node, space) or _node_lookup(node, space, plain, depth)
        if reason:
            return reason
    return None


def _node_lookup(node, space, plain, depth):
    """The lookup by a run-time value that `node` makes, its names read in `space`."""
    if isinstance(node, ast.Attribute) and node.attr in _LOOKUP_ATTRIBUTES and not _is_self(node.value):
        return f"it reads `{node.attr}`"
    if not isinstance(node, (ast.Name, ast.Attribute)) or not isinstance(node.ctx, ast.Load):
        return None
    target = _value_in(node, space)
    name = getattr(target, "__name__", None)
    builtin = isinstance(name, str) and target is getattr(builtins, name, None)
    if builtin and name in _LOOKUP_BUILTINS:
        return f"it calls `{name}`"
    if builtin and name in _LOOKUP_BY_NAME and id(node) not in plain:
        return f"it calls `{name}` with a name given at run time"
    if target is not None and _key(target) in _lookup_objects():
        return f"it uses `{ast.unparse(node)}`"
    if getattr(target, "__module__", None) == space.get("__name__"):
        # a function or class of its own module it names (a base class too): what that looks
        # up. Not another module's: every torch module's class is a Module, whose
        # __getattr__ reads its own tables by name, and that is no lookup of the student's.
        return _lookup_in(target, depth - 1)
    return None


def _keyed_table(node, space):
    """`vars(x)[name]`, `x.__dict__.get(name)`, `vars()[name]`: a table of names read by a key
    computed at run time."""
    if isinstance(node, ast.Subscript):
        table, key = node.value, node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "get", "pop", "setdefault", "__getitem__") and node.args:
        table, key = node.func.value, node.args[0]
    else:
        return None
    if isinstance(key, ast.Constant):
        return None
    if isinstance(table, ast.Attribute) and table.attr == "__dict__" and not _is_self(table.value):
        return "it reads `__dict__` by a name given at run time"
    if isinstance(table, ast.Call) and isinstance(table.func, ast.Name) and table.func.id in ("vars", "globals") \
            and _value_in(table.func, space) is getattr(builtins, table.func.id) \
            and not (table.args and _is_self(table.args[0])):
        return f"it reads `{table.func.id}()` by a name given at run time"
    return None


def _is_self(node):
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _value_in(node, space):
    """What a name or a dotted name of a module's code is, read without running anything but
    attribute reads on modules."""
    if isinstance(node, ast.Name):
        return space[node.id] if node.id in space else getattr(builtins, node.id, None)
    if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
        owner = _value_in(node.value, space)
        if isinstance(owner, types.ModuleType):
            return _attribute_of(owner, node.attr)
    return None


_COMPILED_LOOKUPS = {"__import__", "eval", "exec", "globals", "import_module", "attrgetter", "methodcaller",
                     "getattr_static", "find_class"}


def _compiled_lookup(value):
    functions = [getattr(v, "__func__", v) for v in vars(value).values()] if isinstance(value, type) else [value]
    for function in functions:
        code = getattr(function, "__code__", None)
        found = sorted(_code_names(code) & _COMPILED_LOOKUPS) if isinstance(code, types.CodeType) else []
        if found:
            return f"it uses `{found[0]}`"
    return None


_LOOKUP_KEYS = []


def _lookup_objects():
    if not _LOOKUP_KEYS:
        _LOOKUP_KEYS.append(frozenset(_key(o) for o in map(_resolved, _LOOKUP_OBJECTS) if o is not None))
    return _LOOKUP_KEYS[0]


def _code_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _plain_data(value):
    """A constant (a number, a string, a dtype): nothing to call."""
    import torch

    return isinstance(value, (numbers.Number, str, bytes, type(None), torch.dtype, torch.device))


_BUILTINS = """
    abs all any ascii bin bool bytes callable chr complex dict divmod enumerate filter float
    format frozenset hasattr hash hex id int isinstance issubclass iter len list map max min next
    object oct ord pow print property range repr reversed round set slice sorted staticmethod
    classmethod str sum super tuple type zip NotImplemented Ellipsis True False None __name__
    open
    """
ALLOWED_BUILTINS = frozenset(_BUILTINS.split()) | {
    n for n in dir(builtins) if n.endswith(("Error", "Exception", "Warning")) or n in (
        "StopIteration", "StopAsyncIteration", "GeneratorExit", "KeyboardInterrupt")}
_ALLOWED_DUNDERS = {"__init__", "__name__", "__doc__", "__len__", "__getitem__", "__qualname__"}

# Magics that run their argument (or the cell's body) as code in the notebook's namespace:
# that code is read as part of the cell. Magics in the second set run no Python of the
# notebook's; any other magic (%run, %load, %store, ...) fails closed.
_CODE_MAGICS = {"time", "timeit", "prun", "capture"}
_INERT_MAGICS = {"matplotlib", "load_ext", "reload_ext", "autoreload", "aimport", "pip", "conda",
                 "config", "env", "who", "whos", "who_ls", "pwd", "ls", "precision", "xmode",
                 "history", "lsmagic", "writefile", "bash", "sh", "html", "HTML", "latex",
                 "markdown", "javascript", "js", "svg", "md", "pdoc", "pinfo", "pinfo2", "psearch",
                 "magic", "quickref", "page", "pprint", "colors", "automagic", "system", "sx",
                 "getoutput", "sc", "set_env", "dhist", "bookmark"}

# Anywhere in the program: names and attributes that reach the namespace or the interpreter.
_ESCAPE_BUILTINS = {"exec", "eval", "compile", "__import__", "globals", "vars", "setattr",
                    "delattr", "__builtins__", "breakpoint", "__build_class__"}
_ESCAPE_ATTRIBUTES = {"__dict__", "__globals__", "__code__", "__builtins__", "__setattr__",
                      "__getattribute__", "__closure__", "__defaults__", "__kwdefaults__",
                      "__class__", "__bases__", "__mro__", "__subclasses__", "__func__",
                      "__self__", "__wrapped__", "__torch_function__", "__torch_dispatch__",
                      "f_globals", "f_locals", "f_back", "gi_frame", "tb_frame"}
# Builtins that read their arguments and keep nothing (a reached global handed to them is safe).
_PURE_CALLS = {"print", "len", "isinstance", "issubclass", "repr", "str", "type", "id", "hash",
               "display", "callable", "help", "format", "bool", "int", "float", "tuple", "list",
               "sorted", "range", "zip", "enumerate", "min", "max", "sum", "abs", "round"}

# What IPython's kernel puts in the namespace: outputs of earlier cells (`_`, `_5`, `Out`),
# inputs, its own handle. A function reading them reads values the grader cannot see.
_OUTPUT_HISTORY = re.compile(r"_{1,3}|_\d+|_i+\d*|_[oid]h|Out|In|get_ipython|exit|quit")

_LOOPS = {ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop",
          ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
          ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression"}


@dataclasses.dataclass(frozen=True)
class Finding:
    """One use the rule rejects: what, where, and whether it is a forbidden shortcut."""
    what: str            # the code as written: "F.conv2d", "getattr(F, name)"
    cell: str
    line: int
    inside: str = ""     # the function it is in, when that is not the exercise itself
    forbidden: bool = True
    why: str = ""        # for what is not a plain forbidden name: why it fails

    def where(self):
        inside = f", inside `{self.inside}`" if self.inside else ""
        return f"{self.cell}, line {self.line}{inside}"

    def sentence(self, exercise):
        why = f" ({self.why})" if self.why else ""
        return f"`{exercise}` reaches `{self.what}` ({self.where()}){why}"


@dataclasses.dataclass(frozen=True)
class Loop:
    kind: str
    cell: str
    line: int
    inside: str = ""

    def where(self):
        inside = f", inside `{self.inside}`" if self.inside else ""
        return f"{self.cell}, line {self.line}{inside}"


# -- reading the cells as Jupyter runs them ------------------------------------------------------

def _transform(source):
    """A cell's source as IPython runs it: magics and shell escapes turned into calls, lines kept."""
    if TransformerManager is None:
        return source
    try:
        code = TransformerManager().transform_cell(source)
    except Exception:  # IPython's transformer raises on some malformed input
        return source
    # IPython drops the cell's leading blank lines; put them back, so lines count as the student sees them
    return "\n" * (_leading_blank_lines(source) - _leading_blank_lines(code)) + code


def _leading_blank_lines(text):
    lines = text.split("\n")
    count = 0
    while count < len(lines) - 1 and not lines[count].strip():
        count += 1
    return count


class _Cell:
    def __init__(self, label, tree):
        self.label = label
        self.tree = tree
        self.parent = {}     # id(node) -> parent node
        self.scope = {}      # id(node) -> the scope node its names are evaluated in
        self.info = {}       # id(scope node) -> _Scope
        _Indexer(self).run()


class _Scope:
    def __init__(self, node, parent, kind):
        self.node, self.parent, self.kind = node, parent, kind
        self.bound, self.globals, self.nonlocals = set(), set(), set()
        self.imports = {}  # name -> the dotted paths this scope's imports bind it to

    @property
    def name(self):
        return getattr(self.node, "name", None) or ("lambda" if isinstance(self.node, ast.Lambda) else "")


class _Indexer:
    """Python's scoping rules for one cell: which scope each node's names are evaluated in,
    and what each scope binds (so a name is local, free or global exactly as CPython decides)."""

    def __init__(self, cell):
        self.cell = cell

    def run(self):
        module = _Scope(self.cell.tree, None, "module")
        self.cell.info[id(self.cell.tree)] = module
        for statement in self.cell.tree.body:
            self.visit(statement, module, self.cell.tree)

    def visit(self, node, scope, parent):
        self.cell.parent[id(node)] = parent
        self.cell.scope[id(node)] = scope
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return self.function(node, scope)
        if isinstance(node, ast.ClassDef):
            return self.klass(node, scope)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return self.comprehension(node, scope)
        self.bind(node, scope)
        for child in ast.iter_child_nodes(node):
            self.visit(child, scope, node)

    def bind(self, node, scope):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            scope.bound.add(node.id)
        elif isinstance(node, ast.NamedExpr):
            target = scope
            while target.kind == "comprehension":
                target = target.parent
            target.bound.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    name, path = _import_binding(node, alias)
                    scope.bound.add(name)
                    scope.imports.setdefault(name, []).append(path)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            scope.bound.add(node.name)
        elif isinstance(node, ast.Global):
            scope.globals.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            scope.nonlocals.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            scope.bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            scope.bound.add(node.rest)

    def _outer(self, nodes, scope, parent):
        for node in nodes:
            if node is not None:
                self.visit(node, scope, parent)

    def function(self, node, scope):
        if not isinstance(node, ast.Lambda):
            scope.bound.add(node.name)
            self._outer(node.decorator_list, scope, node)
            self._outer([node.returns], scope, node)
        args = node.args
        self._outer(args.defaults + [d for d in args.kw_defaults if d is not None], scope, node)
        inner = _Scope(node, scope, "function")
        self.cell.info[id(node)] = inner
        for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if arg is not None:
                inner.bound.add(arg.arg)
                self.cell.parent[id(arg)] = node
                self.cell.scope[id(arg)] = scope
                self._outer([arg.annotation], scope, node)
        body = [node.body] if isinstance(node, ast.Lambda) else node.body
        self._outer(body, inner, node)

    def klass(self, node, scope):
        scope.bound.add(node.name)
        self._outer(node.decorator_list + node.bases + [k.value for k in node.keywords], scope, node)
        inner = _Scope(node, scope, "class")
        self.cell.info[id(node)] = inner
        self._outer(node.body, inner, node)

    def comprehension(self, node, scope):
        generators = node.generators
        self.visit(generators[0].iter, scope, node)  # the first iterable is evaluated outside
        inner = _Scope(node, scope, "comprehension")
        self.cell.info[id(node)] = inner
        for i, generator in enumerate(generators):
            self.cell.parent[id(generator)] = node
            self.cell.scope[id(generator)] = inner
            self._outer([generator.target] + ([generator.iter] if i else []) + generator.ifs,
                        inner, generator)
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        self._outer(elements, inner, node)


def _binding_scope(name, scope):
    """The function or class scope that binds `name` read in `scope`, or None: a global (or builtin)."""
    if name in scope.globals or scope.kind == "module":
        return None
    if name in scope.bound and name not in scope.nonlocals:
        return scope
    outer = scope.parent
    while outer.kind != "module":
        if outer.kind != "class":
            if name in outer.globals:
                return None
            if name in outer.bound:
                return outer
        outer = outer.parent
    return None


def _resolves_global(cell, name, scope):
    """True when `name`, read in `scope`, is looked up in the notebook's globals (or builtins)."""
    return _binding_scope(name, scope) is None


def _local_imports(cell, name, home):
    """The dotted paths the imports inside the scope `home` bind `name` to."""
    return home.imports.get(name, [])


def _import_binding(node, alias):
    """(the name an import alias binds, the dotted path it stands for)."""
    if isinstance(node, ast.ImportFrom):
        return alias.asname or alias.name, f"{'.' * node.level}{node.module or ''}.{alias.name}"
    if alias.asname:
        return alias.asname, alias.name
    return alias.name.split(".")[0], alias.name.split(".")[0]


def _windowing_names():
    """Every name torch gives a convolution, pooling or windowing function or method: such an
    attribute read from any value (`X.unfold`, `layer.conv2d`) is a forbidden shortcut."""
    import torch
    from torch import nn
    from torch.nn import functional

    names = {"_C", "ops", "_ops"}
    for space in (torch, torch.Tensor, functional, nn):
        names |= {n for n in dir(space) if _WINDOWING_NAME.search(n)}
    return frozenset(names)


# -- the program: every cell, and what binds each global -------------------------------------------

@dataclasses.dataclass
class _Binding:
    cell: _Cell
    node: ast.AST            # the code that produces the value (a def, a statement, a function)
    module: str | None = None  # for an import: the dotted path the name stands for


class Program:
    """Every cell of the notebook's program, parsed as Jupyter runs it; `cells` are
    [(label, source)] in the order they run."""

    def __init__(self, cells, offset=0):
        self.cells, self.escapes, self.written = [], [], {}
        for label, source in cells:
            self._add(label, source, offset)
        self.bindings, self.star_modules = {}, []
        self.global_reads = {}  # name -> [(cell, Name node)] wherever the name is read as a global
        for cell in self.cells:
            self._collect_bindings(cell)
        self.escape_findings = None  # filled by the first Reach: the same for every exercise

    def _add(self, label, source, offset=0):
        try:
            tree = ast.parse(_transform(source or ""))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return  # a cell that does not compile runs nothing
        if offset:
            ast.increment_lineno(tree, offset)
        cell = _Cell(label, tree)
        self.cells.append(cell)
        for node in ast.walk(tree):
            magic = _magic(node)
            if magic is None:
                continue
            name, code, line = magic
            if name in _CODE_MAGICS and code is not None:
                self._add(label, code, line)
            elif name == "writefile" and code is not None:
                self._written_file(label, node, code, line)
            elif name not in _INERT_MAGICS:
                self.escapes.append(Finding(f"%{name}", label, node.lineno,
                                            why="a magic whose effect on your functions the grader cannot read"))

    def _written_file(self, label, node, body, line):
        """`%%writefile helpers.py`: the module a later `import helpers` loads, read as its own
        program (its own namespace), so what the exercise uses from it is judged like the rest."""
        words = node.args[1].value.split() if isinstance(node.args[1], ast.Constant) else []
        path = next((w for w in words if not w.startswith("-")), "")
        if path.endswith(".py") and "/" not in path:
            self.written[path[:-3]] = Program([(f"{label} ({path})", body)], offset=line)

    def _collect_bindings(self, cell):
        for node in ast.walk(cell.tree):
            scope = cell.scope.get(id(node))
            if scope is None:
                continue
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                    and _resolves_global(cell, node.id, scope):
                self.global_reads.setdefault(node.id, []).append((cell, node))
                key = _globals_key(cell, node) if node.id == "globals" else None
                if key is not None and key[1]:  # globals()['name'] = value binds that global
                    statement = cell.parent[id(cell.parent[id(cell.parent[id(node)])])]
                    self.bindings.setdefault(key[0], []).append(_Binding(cell, statement))
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._imports(cell, node, scope)
                continue
            name = _bound_name(node)
            if name is None:
                continue
            home = scope
            if isinstance(node, ast.NamedExpr):
                while home.kind == "comprehension":
                    home = home.parent
            if home.kind == "module":
                self.bindings.setdefault(name, []).append(_Binding(cell, _value_code(node, cell)))
            elif name in home.globals:
                # a function that rebinds a global: the whole function is that binding's code
                self.bindings.setdefault(name, []).append(_Binding(cell, home.node))

    def _imports(self, cell, node, scope):
        if scope.kind != "module" and not any(
                (a.asname or a.name).split(".")[0] in scope.globals for a in node.names):
            return
        for alias in node.names:
            if alias.name == "*":
                self.star_modules.append((cell, node, ("." * node.level) + (node.module or "")))
                continue
            name, path = _import_binding(node, alias)
            self.bindings.setdefault(name, []).append(_Binding(cell, node, module=path))


def _magic(node):
    """('timeit', code or None, line offset of that code) for get_ipython().run_*_magic(...)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "get_ipython"):
        return None
    method = node.func.attr
    texts = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None
             for a in node.args]
    if method == "run_line_magic" and len(texts) >= 2 and texts[0]:
        return texts[0], texts[1], node.lineno - 1
    if method == "run_cell_magic" and len(texts) >= 3 and texts[0]:
        return texts[0], texts[2], node.lineno  # the body starts on the cell's second line
    if method in ("system", "getoutput"):
        return "system", None, node.lineno
    return (method, None, node.lineno)


def _bound_name(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        return node.id
    if isinstance(node, ast.NamedExpr):
        return node.target.id
    if isinstance(node, ast.ExceptHandler) and node.name:
        return node.name
    return None


def _value_code(node, cell):
    """The code whose value a module-level binding gives its name: the def, or the statement
    (reduced to its header for for/with/except, whose bodies bind their own names)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.NamedExpr,
                         ast.ExceptHandler)):
        return node.type if isinstance(node, ast.ExceptHandler) and node.type else node
    statement = node
    while not isinstance(statement, ast.stmt) and not isinstance(statement, ast.comprehension):
        statement = cell.parent[id(statement)]
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return ast.Tuple(elts=[statement.target, statement.iter], ctx=ast.Load())
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return ast.Tuple(elts=[i.context_expr for i in statement.items], ctx=ast.Load())
    return statement


# -- the rule --------------------------------------------------------------------------------------

class Reach:
    """What `root` reaches in `program`: findings (rejected uses) and loops, each located."""

    def __init__(self, program, root, forbidden_names=()):
        self.program, self.root = program, root
        self.forbidden_names = set(forbidden_names)
        self.findings, self.loops = [], []
        self._done, self._globals, self._scanned = set(), set(), set()
        self._todo, self._argument_pieces, self._code_globals = [], {}, set()
        self._whole_program = False
        self._global(root, None, None, CODE)
        while self._todo:
            while self._todo:
                self._analyse(*self._todo.pop())
            self._scan_for_mutations()
        self._escapes()
        order = {cell.label: i for i, cell in reversed(list(enumerate(program.cells)))}
        self.findings = _unique(self.findings, order)
        self.loops = sorted(set(self.loops), key=lambda loop: (order.get(loop.cell, 0), loop.line))

    # what a reached piece of code does

    def _enqueue(self, cell, node, level):
        if (id(cell), id(node), CODE) in self._done or (id(cell), id(node), level) in self._done:
            return
        self._done.add((id(cell), id(node), level))
        self._todo.append((cell, node, level))

    def _analyse(self, cell, top, level):
        """One piece of reached code. At the VALUE level (code that only makes values the reached
        code may come to hold: test code handing it arguments, stores into its globals), what
        is called there is not held against the exercise, only what is kept uncalled: a
        function object, a module, a lambda (whose body is reached code)."""
        for node in _walk(top, level, lambda nested: self._enqueue(cell, nested, CODE)):
            if level == VALUE and _called(cell, node):
                if isinstance(node, ast.Name):  # what it returns is a value
                    self._name(cell, node, VALUE, judge=False)
                continue
            if level == CODE and isinstance(node, tuple(_LOOPS)) and _runs_per_call(cell, node):
                self.loops.append(Loop(_LOOPS[type(node)], cell.label, node.lineno, self._inside(cell, node)))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                self._name(cell, node, level, held=level == VALUE)
            elif isinstance(node, ast.Attribute) and not _is_chain_inner(cell, node):
                self._chain(cell, node)
            elif isinstance(node, ast.Call):
                self._call(cell, node)

    def _name(self, cell, node, level, judge=True, held=False):
        scope = cell.scope.get(id(node))
        if scope is None:
            return
        chained = isinstance(cell.parent.get(id(node)), ast.Attribute)
        home = _binding_scope(node.id, scope)
        key = _globals_key(cell, node) if node.id == "globals" and home is None else None
        if key is not None:  # globals()['name']: that global, read (a write is a binding)
            self._global(key[0], cell, node, level, held=held)
        elif home is None:
            self._global(node.id, cell, node, level, judge=judge and not chained, held=held)
        elif judge and not chained:
            for path in _local_imports(cell, node.id, home):
                self._judge_path(path, node.id, cell, node)

    def _global(self, name, cell, node, level, judge=True, held=False):
        """A global the piece reads. `held`: read uncalled at the VALUE level, so a function or
        class it names may be kept and called later by the exercise: its body is reached code."""
        bindings = self.program.bindings.get(name, [])
        # A value handed to the exercise by test code, under a name the notebook also binds to
        # data (hypothesis's `settings`, later a list of test settings): the data is what it holds.
        rebound_as_data = level == VALUE and any(b.module is None for b in bindings)
        for binding in bindings:
            if binding.module is not None:
                if judge and not rebound_as_data:  # the exercise itself may be an import: locate it at the import line
                    self._judge_path(binding.module, name, cell or binding.cell, node or binding.node)
            else:
                self._globals.add(name)
                if level == CODE:
                    self._code_globals.add(name)
                definition = isinstance(binding.node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                self._enqueue(binding.cell, binding.node, CODE if held and definition else level)
        if not judge:
            return
        if bindings or node is None:
            return
        if self.program.star_modules and name not in ALLOWED_BUILTINS:
            for _, _, module in self.program.star_modules:
                chain, complete = _chain_of(_canonical(f"{module}.{name}"))
                if complete or not chain:  # a module that has the name, or one the grader cannot import
                    self._judge_path(f"{module}.{name}", name, cell, node)
        elif isinstance(cell.parent.get(id(node)), ast.Call) and cell.parent[id(node)].func is node \
                and node.id == "getattr":
            return  # judged with its arguments (_call)
        elif _OUTPUT_HISTORY.fullmatch(name):
            self._find(cell, node, name, why="Jupyter's history of outputs, which the grader cannot follow")
        elif name in dir(builtins) and name not in ALLOWED_BUILTINS:
            computed = name in _ESCAPE_BUILTINS or name == "getattr"  # getattr handed on: names computed
            self._find(cell, node, name, forbidden=computed,
                       why="a builtin the grader cannot follow" if computed
                       else "not on the list of what this exercise may use")
        # any other name bound nowhere raises NameError when read: no shortcut

    def _chain(self, cell, node):
        """An attribute chain `root.a.b`: a dotted path under an import, or attributes of a value."""
        parts, base = [], node
        while isinstance(base, ast.Attribute):
            parts.append(base.attr)
            base = base.value
        parts.reverse()
        modules = self._modules_of(cell, base)
        for module in modules:
            self._judge_path(".".join([module] + parts), ast.unparse(node), cell, node)
        if not modules or self._has_value_binding(cell, base):
            for attr in parts:
                self._attribute(attr, cell, node)

    def _modules_of(self, cell, base):
        if not isinstance(base, ast.Name) or cell.scope.get(id(base)) is None:
            return []
        home = _binding_scope(base.id, cell.scope[id(base)])
        if home is not None:
            return _local_imports(cell, base.id, home)
        return [b.module for b in self.program.bindings.get(base.id, []) if b.module is not None] \
            + self._aliased_paths(base.id)

    def _aliased_paths(self, name, seen=()):
        """The dotted paths a global stands for through plain assignments (`F = torch.nn.functional`,
        `ops = typing.operator`), followed through aliases of aliases."""
        paths = []
        for binding in self.program.bindings.get(name, []):
            statement = binding.node
            if not (isinstance(statement, ast.Assign) and all(isinstance(t, ast.Name) for t in statement.targets)
                    and isinstance(statement.value, (ast.Name, ast.Attribute))):
                continue
            root, parts = _chain_root(statement.value), _chain_parts(statement.value)
            if not isinstance(root, ast.Name) or root.id in seen:
                continue
            for b in self.program.bindings.get(root.id, []):
                if b.module is not None:
                    paths.append(".".join([b.module] + parts))
            paths += [".".join([p] + parts) for p in self._aliased_paths(root.id, seen + (name,))]
        return paths

    def _has_value_binding(self, cell, base):
        if not isinstance(base, ast.Name):
            return True
        scope = cell.scope.get(id(base))
        if scope is None or not _resolves_global(cell, base.id, scope):
            return True
        return any(b.module is None for b in self.program.bindings.get(base.id, []))

    def _attribute(self, attr, cell, node):
        if attr in self.forbidden_names or attr in _WINDOWING:
            self._find(cell, node, ast.unparse(node))
        elif attr.startswith("__") and attr.endswith("__") and attr not in _ALLOWED_DUNDERS:
            self._find(cell, node, ast.unparse(node), why="a special attribute the grader cannot follow")

    def _call(self, cell, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "getattr" and _is_builtin(cell, func, self.program):
            name = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                synthetic = ast.Attribute(value=node.args[0], attr=name.value, ctx=ast.Load())
                ast.copy_location(synthetic, node)
                cell.parent[id(synthetic)] = node
                self._chain(cell, synthetic)
            else:
                self._find(cell, node, _short(node), why="an attribute name computed at run time cannot be checked")

    def _judge_path(self, path, shown, cell, node):
        """A dotted name the reached code uses, judged by the object it resolves to."""
        path = _canonical(path)
        module, _, name = path.partition(".")
        if module in self.program.written and name and "." not in name:
            return self._written(self.program.written[module], name)
        if not _findable(module):
            return self._find(cell, node, shown, why="a module the grader cannot read, such as one "
                                                     "the notebook writes itself")
        chain, complete = _chain_of(path)
        verdict = _identities().judge(chain, self.forbidden_names) if complete else "unlisted"
        if verdict != "escape" and complete and isinstance(chain[-1], types.ModuleType) \
                and _is_alias(cell, node):
            return  # `F = torch.nn.functional`: judged where it is used, through the alias
        if verdict == "forbidden":
            self._find(cell, node, shown)
        elif verdict == "escape":
            self._find(cell, node, shown, why="it looks up functions or modules by a value computed at "
                                              "run time, or reaches torch's internals: the grader cannot follow it")
        elif verdict == "unlisted":
            home, _, last = path.rpartition(".")
            origin = f" from {home}" if home else ""
            lookup = _runtime_lookup(chain[-1]) if complete else None
            if lookup:
                return self._find(cell, node, shown, why=f"`{last}`{origin} looks up names given to it at run "
                                                         f"time ({lookup}); the grader cannot follow that")
            self._find(cell, node, shown, forbidden=False,
                       why=f"`{last}`{origin} is not on the list of operations this exercise may use; "
                           "it costs this one check")

    def _written(self, module, name):
        """`name` from a module the notebook wrote (%%writefile): what it reaches there counts."""
        inner = Reach(module, name, self.forbidden_names)
        self.findings.extend(inner.findings)
        self.loops.extend(inner.loops)

    def _find(self, cell, node, what, forbidden=True, why=""):
        if node is None:
            return
        self.findings.append(Finding(_clip(what), cell.label, getattr(node, "lineno", 0),
                                     self._inside(cell, node), forbidden, why))

    def _inside(self, cell, node):
        scope = cell.scope.get(id(node))
        while scope is not None and scope.kind not in ("function", "class"):
            scope = scope.parent
        name = scope.name if scope is not None else ""
        return "" if name == self.root and not self._whole_program else name

    # code elsewhere that can change what the reached code reads

    def _scan_for_mutations(self):
        fresh = self._globals - self._scanned
        if not fresh:
            return
        self._scanned |= fresh
        for name in fresh:
            for cell, node in self.program.global_reads.get(name, []):
                self._mutation_site(cell, node)

    def _mutation_site(self, cell, name):
        """Where a reached global is read by code that is not reached: count that code when it
        can change the global (a store into it, a method call on it, an alias, and for a global
        the exercise's code reads, handing it to a function), and the arguments of a call of it
        (a function may keep what it is given)."""
        node, parent = name, cell.parent.get(id(name))
        while isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is node:
            node, parent = parent, cell.parent.get(id(parent))
        if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            self._enqueue(cell, _statement_of(cell, node), VALUE)
        elif isinstance(parent, ast.Call) and parent.func is node:
            if node is not name:  # g.method(...)
                self._enqueue(cell, parent, VALUE)
            else:                 # g(...): its arguments reach g
                self._enqueue(cell, self._arguments(cell, parent), VALUE)
        elif isinstance(parent, (ast.Call, ast.keyword, ast.Starred)) and name.id in self._code_globals \
                and not self._pure_call(cell, parent):
            self._enqueue(cell, _call_of(cell, parent), VALUE)  # what it is handed to may keep it
        else:
            while isinstance(parent, (ast.Tuple, ast.List, ast.Dict, ast.Set, ast.Starred)):
                node, parent = parent, cell.parent.get(id(parent))
            if not (isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr))
                    and parent.value is node or isinstance(parent, ast.withitem)
                    or isinstance(parent, ast.For) and parent.iter is node):
                return
            statement = self._header(cell, _statement_of(cell, node))
            self._enqueue(cell, statement, VALUE)
            for target in ast.walk(statement):
                if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                    self._globals.add(target.id)

    def _header(self, cell, statement):
        """A statement reduced to what computes its bound values (for/with: the header), once."""
        if id(statement) not in self._argument_pieces:
            self._argument_pieces[id(statement)] = _value_code(statement, cell)
        return self._argument_pieces[id(statement)]

    def _arguments(self, cell, call):
        """The arguments of a call, as one piece (the same node every time it is asked for)."""
        if id(call) not in self._argument_pieces:
            self._argument_pieces[id(call)] = ast.Tuple(
                elts=list(call.args) + [k.value for k in call.keywords], ctx=ast.Load())
        return self._argument_pieces[id(call)]

    def _pure_call(self, cell, parent):
        call = parent
        while not isinstance(call, ast.Call):
            call = cell.parent.get(id(call))
            if call is None:
                return False
        func = call.func
        if isinstance(func, ast.Name) and func.id in _PURE_CALLS and _is_builtin(cell, func, self.program):
            return True
        base = func
        while isinstance(base, ast.Attribute):
            base = base.value
        modules = self._modules_of(cell, base) if isinstance(base, ast.Name) else []
        return bool(modules) and all(m.split(".")[0] in ("torch", "numpy", "math") for m in modules) \
            and not self._has_value_binding(cell, base)

    # anywhere in the program

    def _escapes(self):
        if self.program.escape_findings is None:  # named in full, for any exercise to reuse
            found, self.findings, self._whole_program = self.findings, [], True
            for cell in self.program.cells:
                for node in ast.walk(cell.tree):
                    self._escape(cell, node)
            self.program.escape_findings = self.program.escapes + self.findings
            self.findings, self._whole_program = found, False
        self.findings.extend(dataclasses.replace(f, inside="") if f.inside == self.root else f
                             for f in self.program.escape_findings)

    def _escape(self, cell, node):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in _ESCAPE_BUILTINS and _is_builtin(cell, node, self.program) \
                    and not _setattr_on_self(cell, node) \
                    and not (node.id == "globals" and _globals_key(cell, node)):
                self._find(cell, node, node.id, why="it can change your functions out of the grader's sight")
            elif node.id == "locals" and cell.scope[id(node)].kind == "module":
                self._find(cell, node, node.id, why="it can change your functions out of the grader's sight")
            elif node.id == "get_ipython" and _magic(_ancestor(cell, node, 3)) is None:
                self._find(cell, node, "get_ipython", why="it can run code the grader cannot read")
        elif isinstance(node, ast.Attribute):
            if node.attr in _ESCAPE_ATTRIBUTES:
                self._find(cell, node, _short(node), why="it can change your functions out of the grader's sight")
            elif isinstance(node.ctx, (ast.Store, ast.Del)) and not _is_chain_inner(cell, node):
                self._monkeypatch(cell, node)
            elif not _is_chain_inner(cell, node):
                for module in self._modules_of(cell, _chain_root(node)):
                    chain, _ = _chain_of(_canonical(".".join([module] + _chain_parts(node))))
                    if _identities().anywhere.marks(chain) and not _own_module(cell, node, chain):
                        self._find(cell, node, _short(node), why="it can change torch or your functions "
                                                                 "out of the grader's sight")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                full = alias.name if isinstance(node, ast.Import) else f"{node.module or ''}.{alias.name}"
                chain, _ = _chain_of(_canonical(full))
                if _identities().imports.marks(chain) or full.split(".")[0] == "__main__":
                    self._find(cell, node, f"import {full}", why="it can change torch or your functions "
                                                                 "out of the grader's sight")

    def _monkeypatch(self, cell, node):
        """`torch.matmul = ...`: a non-constant stored into an imported module changes torch itself."""
        if not self._modules_of(cell, _chain_root(node)):
            return
        statement = _statement_of(cell, node)
        value = getattr(statement, "value", None)
        if isinstance(node.ctx, ast.Del) or not isinstance(value, ast.Constant):
            self._find(cell, node, _short(node), why="it replaces part of an imported module")


def _runs_per_call(cell, node):
    """A loop inside a function runs on every call; one at the top level (computing a global
    the function reads) ran once, when its cell ran."""
    scope = cell.scope.get(id(node))
    while scope is not None:
        if scope.kind == "function":
            return True
        scope = scope.parent
    return False


def _ancestor(cell, node, levels):
    for _ in range(levels):
        node = cell.parent.get(id(node))
    return node


def _call_of(cell, node):
    while not isinstance(node, ast.Call):
        node = cell.parent.get(id(node))
    return node


CODE, VALUE = "code", "value"


def _walk(top, level, nested_code):
    """Every node under `top` (a piece made of several expressions is a bare ast.Tuple). At the
    VALUE level a function or class defined inside is handed to `nested_code`, not walked:
    its body runs when it is called, so it is reached code."""
    todo = [top]
    while todo:
        node = todo.pop()
        if level == VALUE and node is not top and isinstance(node, (ast.Lambda, ast.FunctionDef,
                                                                    ast.AsyncFunctionDef, ast.ClassDef)):
            nested_code(node)
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _called(cell, node):
    """`node` is what a call calls: `F.conv2d` in `F.conv2d(X, K)`, `getattr(F, n)` in `getattr(F, n)(X)`."""
    parent = cell.parent.get(id(node))
    return isinstance(parent, ast.Call) and parent.func is node



def _is_chain_inner(cell, node):
    parent = cell.parent.get(id(node))
    return isinstance(parent, ast.Attribute) and parent.value is node


def _chain_root(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def _chain_parts(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return parts[::-1]


def _statement_of(cell, node):
    while node is not None and not isinstance(node, ast.stmt):
        node = cell.parent.get(id(node))
    return node


def _is_builtin(cell, name, program):
    scope = cell.scope.get(id(name))
    return (scope is not None and _resolves_global(cell, name.id, scope)
            and name.id not in program.bindings)


def _setattr_on_self(cell, node):
    call = cell.parent.get(id(node))
    return (node.id in ("setattr", "delattr") and isinstance(call, ast.Call) and call.func is node
            and call.args and isinstance(call.args[0], ast.Name) and call.args[0].id == "self")


def _globals_key(cell, node):
    """For `globals` in `globals()['name']` or `globals().get('name', ...)`: ('name', is_store);
    None for any other use (a computed key, the whole dict handed on)."""
    call = cell.parent.get(id(node))
    if not (isinstance(call, ast.Call) and call.func is node and not call.args and not call.keywords):
        return None
    use = cell.parent.get(id(call))
    if isinstance(use, ast.Subscript) and use.value is call and isinstance(use.slice, ast.Constant) \
            and isinstance(use.slice.value, str):
        return use.slice.value, isinstance(use.ctx, ast.Store)
    if isinstance(use, ast.Attribute) and use.attr == "get":
        get = cell.parent.get(id(use))
        if isinstance(get, ast.Call) and get.func is use and get.args and isinstance(get.args[0], ast.Constant) \
                and isinstance(get.args[0].value, str):
            return get.args[0].value, False
    return None


def _own_module(cell, node, chain):
    """`sys.modules[__name__]`, read: the notebook's own module, as a kernel gives it (pickle and
    dataclasses look it up so); a write or any other key is still an escape."""
    import sys

    subscript = cell.parent.get(id(node))
    return (chain[-1] is sys.modules and isinstance(subscript, ast.Subscript) and subscript.value is node
            and isinstance(subscript.ctx, ast.Load) and isinstance(subscript.slice, ast.Name)
            and subscript.slice.id == "__name__" and not isinstance(cell.parent.get(id(subscript)), ast.Attribute)
            or False)


_FINDABLE = {}


def _findable(module):
    """An installed module (the standard library, torch, numpy, ...); not one the notebook
    writes itself (`%%writefile helpers.py`, open(...).write), whose code the grader cannot read."""
    if module not in _FINDABLE:
        import importlib.util
        import sys

        try:
            found = module in sys.stdlib_module_names or importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        _FINDABLE[module] = found
    return _FINDABLE[module]


def _is_alias(cell, node):
    """`node` is the whole value of a plain assignment to names (`F = torch.nn.functional`)."""
    statement = cell.parent.get(id(node)) if cell is not None and node is not None else None
    return (isinstance(statement, ast.Assign) and statement.value is node
            and all(isinstance(t, ast.Name) for t in statement.targets))


def _canonical(path):
    return path.lstrip(".")


def _short(node):
    return _clip(ast.unparse(node))


def _clip(text, limit=60):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _unique(findings, order):
    """Each finding once, forbidden shortcuts first, then in the order the cells run."""
    seen, out = set(), []
    for finding in sorted(findings, key=lambda f: (not f.forbidden, order.get(f.cell, 0), f.line, f.what)):
        key = (finding.what, finding.cell, finding.line)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


_WINDOWING = _windowing_names()


_PROGRAMS = {}


def reach(cells, root, forbidden_names=()):
    """What `root` reaches in the program made of `cells` ([(label, source)]). The parsed
    program is kept for the next exercise of the same submission (the last few only)."""
    key = tuple(cells)
    program = _PROGRAMS.pop(key, None) or Program(cells)
    _PROGRAMS[key] = program
    while len(_PROGRAMS) > 4:
        _PROGRAMS.pop(next(iter(_PROGRAMS)))
    return Reach(program, root, forbidden_names)


# -- the course's policy ---------------------------------------------------------------------------

POLICIES = ("void_exercise", "fail_check")


def apply_policy(tests, policy="void_exercise"):
    """Turn forbidden shortcuts (tests carrying a "shortcut" sentence, found in the source, or a
    "refused" one, found at run time: grader.engine.runner) into the course's penalty; returns
    the notes that say so, one per exercise, naming the source's finding where there is one.
    Every test loses both keys."""
    found, refused = {}, {}
    for test in tests:
        sentence, at_run_time = test.pop("shortcut", None), test.pop("refused", None)
        if sentence:
            found.setdefault(test["exercise"], sentence)
        if at_run_time:
            refused.setdefault(test["exercise"], at_run_time)
    found = {**refused, **found}
    if policy != "void_exercise":
        return []
    notes = []
    for exercise, sentence in found.items():
        notes.append(f"{sentence}: every check of `{exercise}` scores 0, the course's rule for a "
                     "forbidden shortcut")
        for test in tests:
            if test["exercise"] == exercise and test["status"] == "passed":
                test.update(status="failed", score=0.0,
                            output=f"0 points: `{exercise}` uses a forbidden shortcut ({sentence}); "
                                   "the course voids every check of that exercise")
    return notes
