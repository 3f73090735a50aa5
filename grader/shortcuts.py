"""Forbidden shortcuts: torch doing the exercise for the student, found two ways.

- In the source: every cell the student wrote is read, and the definitions reachable from
  the exercise's name (its function, the helpers it calls, a rebinding such as
  `corr2d = F.conv2d` in another cell) are searched for forbidden names. Code that only
  *tests* the answer at the top level of a cell (comparing with F.conv2d, as the notebooks
  themselves do) is not reachable and is not held against the student.
- At the dispatcher: the call runs in the sandbox under a TorchDispatchMode that records the
  aten operations it reaches (grader.untrusted.child), so a convolution reached by a
  computed name (`getattr(F, "con" + "v2d")`) or under another name is seen too. The
  sandbox reports what it saw; a student can only hide a shortcut from it by tampering with
  torch in the sandbox, which the source check and the numeric checks still face.
"""

import ast

from grader.notebook import CELL_SEPARATOR

# aten operations (overload packets) that compute a convolution, a pooling or an im2col.
FORBIDDEN_OPS = frozenset({
    "convolution", "_convolution", "conv1d", "conv2d", "conv3d", "convolution_overrideable",
    "cudnn_convolution", "mkldnn_convolution", "miopen_convolution", "_slow_conv2d_forward",
    "slow_conv_dilated2d", "slow_conv3d_forward", "_conv_depthwise2d", "conv_depthwise3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "slow_conv_transpose2d",
    "cudnn_convolution_transpose", "mkldnn_convolution_transpose", "convolution_backward",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "mkldnn_max_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "fractional_max_pool2d", "cudnn_max_pool2d",
    "im2col", "col2im", "unfold", "unfold_backward",
})


def reachable_uses(code, root, names, other_exercises=()):
    """Which of `names` the definitions reachable from `root` in `code` mention. The search
    does not enter `other_exercises`: each of those is judged by its own check (one mistake,
    one check), so corr2d_multi_in_out calling a corr2d_multi_in that uses F.conv2d is fine."""
    names = set(names)
    definitions = _definitions(code)
    found, seen, todo = set(), set(other_exercises) - {root}, [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in definitions.get(name, []):
            found |= mentions(node, names)
            todo.extend(_referenced_names(node) - seen)
    return sorted(found)


def _definitions(code):
    """name -> the top-level statements of every cell that bind it (def, class, assignment, import)."""
    definitions = {}
    for cell in code.split(CELL_SEPARATOR):
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        for statement in tree.body:
            for name in _bound_names(statement):
                definitions.setdefault(name, []).append(statement)
    return definitions


def _bound_names(statement):
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in statement.names]
    return []


def _referenced_names(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def mentions(node, names):
    """The `names` a syntax tree mentions as a name, an attribute, an import or a string."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in names:
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute) and sub.attr in names:
            found.add(sub.attr)
        elif isinstance(sub, ast.alias) and sub.name.split(".")[-1] in names:
            found.add(sub.name.split(".")[-1])
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value in names:
            found.add(sub.value)
    return found
