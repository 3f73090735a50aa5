"""`convgrade release`: regenerate exercises/ from solutions/ with nbgrader's generate_assignment.

Before releasing, each source notebook is brought in line with its hidden suite, the one
source of truth for points and exercises: every `hidden_<exercise>` test cell gets the
exercise's points, the "what the grader checks" cell lists every check by name, and the
"forbidden shortcuts" cell names the exercises a check of which applies the rule. Then
docs/student-api.md is written from the answer cells of every assignment.
"""

import ast
import re
import shutil
import subprocess
import sys

import nbformat
from tqdm import tqdm

from grader.course import assignments, notebook
from grader.engine import runner

CHECKLIST_INTRO = """## What the grader checks / 채점 항목

The grader runs these hidden checks on your answers. The visible checks under each
exercise are sanity checks only: passing them does not promise that these pass.

채점기는 아래의 숨겨진 검사를 실행합니다. 각 문제 아래의 공개 검사는 기본 점검일 뿐이며,
그것을 통과해도 아래 검사의 통과를 보장하지 않습니다.

| exercise | check | points |
|---|---|---|
"""


SHORTCUTS = """**Forbidden shortcuts.** In {names} you compute the result yourself. The grader decides this before
running anything, from the code your function reaches when it is called: its body, the helpers it
calls (other exercises included) and the notebook globals it reads. Your own tests are not held
against you: a comparison with `F.conv2d` or `nn.MaxPool2d` at the top level of a cell, a name on an
import line your function never uses, a global that your function shadows with a local of the same
name. If the reached code uses torch's convolution, pooling or `unfold` (under any name), or
something the grader cannot follow without running it (a computed `getattr`, `exec`/`eval`,
`torch._C`, `torch.ops`, writing to `globals()`), **every check of that exercise scores 0** (the
course's rule; your instructor may charge only the one check instead), and the feedback names the
cell and line. Code outside the tensor operations an exercise needs (threads, other libraries)
costs that one check.

**금지된 지름길.** {korean_names}에서는 결과를 직접 계산해야 합니다. 채점기는 아무것도 실행하기 전에,
함수가 호출될 때 닿는 코드, 즉 함수 본문과 그 함수가 호출하는 보조 함수(다른 문제의 함수 포함), 함수가
읽는 노트북 전역 변수만 보고 판단합니다. 여러분이 직접 작성한 테스트는 문제 삼지 않습니다. 셀 최상위에서
`F.conv2d`나 `nn.MaxPool2d`와 비교하는 코드, 함수가 쓰지 않는 import 줄의 이름, 함수 안의 같은 이름의
지역 변수에 가려진 전역 변수는 괜찮습니다. 닿는 코드가 (어떤 이름으로든) torch의 합성곱, 풀링, `unfold`를
쓰거나, 실행하지 않고는 채점기가 따라갈 수 없는 것(계산된 `getattr`, `exec`/`eval`, `torch._C`,
`torch.ops`, `globals()`에 쓰기)을 쓰면 **그 문제의 모든 검사가 0점**이 되며(과목의 규칙이며, 교수자가
해당 검사 하나만 감점하도록 정할 수도 있습니다), 피드백에 해당 셀과 줄이 표시됩니다. 문제에 필요한 텐서
연산 밖의 코드(스레드, 다른 라이브러리)는 그 검사 하나만 잃습니다."""

STUDENT_API = assignments.COURSE_DIR / "docs" / "student-api.md"
STUDENT_API_INTRO = """# The student API

What students write, per assignment: one answer cell per exercise, named as below. The names
and signatures are the contract between the notebooks, the hidden suites and the students'
code. `convgrade release` writes this page from the answer cells of `solutions/`, in the
exercises the suites grade; do not edit it by hand.

Inputs follow torch conventions: tensors of any floating dtype, on any device. An output keeps
the input's device and dtype.
"""


class ReleaseError(Exception):
    """A source notebook release cannot write: the message says what to change."""


def release(names=None, progress=False):
    """Release each assignment and write docs/student-api.md; returns (the released notebooks, the
    source notebooks brought in line with their suite). progress: a bar on a terminal (stderr)."""
    released, synced = [], []
    for assignment in tqdm(names or assignments.authored(), desc="releasing", unit="assignment",
                           disable=None if progress else True, file=sys.stderr, leave=False):
        if sync_with_suite(assignment):
            synced.append(assignments.source_notebook(assignment))
        target = assignments.EXERCISES / assignment
        if target.exists():
            shutil.rmtree(target)
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
             "--force", "--no-db", "--log-level=WARN"],
            cwd=assignments.COURSE_DIR, check=True)
        released.append(assignments.released_notebook(assignment))
    STUDENT_API.parent.mkdir(exist_ok=True)  # a course of its own may have no docs/ yet
    STUDENT_API.write_text(student_api())
    return released, synced


def sync_with_suite(assignment):
    """Write the source notebook back when its points or checklist disagree with the suite; say whether it did."""
    source, changed = synced_source(assignment)
    if changed:
        nbformat.write(source, assignments.source_notebook(assignment))
    return changed


def synced_source(assignment):
    """(the source notebook as the suite says it should read, whether that differs from disk)."""
    path = assignments.source_notebook(assignment)
    source = nbformat.read(path, as_version=4)
    if assignment not in assignments.names():
        return source, False
    checks = runner.collect_checks(assignment)
    before = nbformat.writes(source)
    order = [notebook.grade_id(c) for c in source.cells if notebook.grade_id(c)]
    missing = [e for e in runner.exercises(assignment) if e not in order]
    if missing:
        raise ReleaseError(f"{path.name}: its suite grades {', '.join(f'`{e}`' for e in missing)}, but the "
                           "notebook has no cell with that grade_id (the answer cell the students fill in)")
    _sync_shortcuts(source, sorted(runner.exercises_with_the_rule(assignment), key=order.index))
    for cell in source.cells:
        cid = notebook.grade_id(cell) or ""
        if cid.startswith("hidden_"):
            exercise = cid.removeprefix("hidden_")
            cell.metadata["nbgrader"]["points"] = sum(c["max_score"] for c in checks
                                                      if c["exercise"] == exercise)
        if cell.metadata.get("convgrade") == "checklist":
            in_notebook_order = sorted(checks, key=lambda c: order.index(c["exercise"]))
            cell.source = CHECKLIST_INTRO + "\n".join(
                f"| `{c['exercise']}` | {c['name']} | {c['max_score']:g} |" for c in in_notebook_order)
    return source, nbformat.writes(source) != before


def _sync_shortcuts(source, ruled):
    """The "forbidden shortcuts" cell (metadata `convgrade: shortcuts`) names the exercises `ruled`,
    in notebook order; it follows the opening cell, and there is none when nothing is ruled."""
    cells = [c for c in source.cells if c.metadata.get("convgrade") == "shortcuts"]
    if not ruled:
        source.cells = [c for c in source.cells if c not in cells]
        return
    if not cells:
        cells = [nbformat.v4.new_markdown_cell(metadata={"convgrade": "shortcuts"}, id="forbidden-shortcuts")]
        source.cells.insert(1, cells[0])
    names = [f"`{name}`" for name in ruled]
    cells[0].source = SHORTCUTS.format(names=_listed(names), korean_names=", ".join(names))


def _listed(items):
    """"a", "a and b", "a, b and c"."""
    return " and ".join(filter(None, [", ".join(items[:-1]), items[-1]]))


def student_api():
    """docs/student-api.md: per assignment, each exercise's signature and what it computes (the
    first paragraph of its docstring), read from the answer cells, in notebook order."""
    parts = [STUDENT_API_INTRO.rstrip("\n")]
    for assignment in assignments.names():
        source = nbformat.read(assignments.source_notebook(assignment), as_version=4)
        graded = set(runner.exercises(assignment))
        parts.append(f"\n## `{assignment}`\n\n| exercise | what the student writes |\n|---|---|")
        for cell in source.cells:
            if notebook.grade_id(cell) in graded and cell.cell_type == "code":
                parts.append(f"| `{notebook.grade_id(cell)}` | {_described(cell.source, notebook.grade_id(cell))} |")
    return "\n".join(parts) + "\n"


def _described(code, name):
    """The definition of `name` in an answer cell: its signature (a class's, with its methods'),
    then its docstring's first paragraph."""
    node = next((n for n in ast.parse(code).body
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name), None)
    if node is None:
        raise ReleaseError(f"the answer cell `{name}` defines no function or class `{name}`")
    if isinstance(node, ast.ClassDef):
        methods = [m for m in node.body if isinstance(m, ast.FunctionDef)]
        written = [f"`{_header(code, m)}`" for m in methods]
        signature = f"`class {_header(code, node)}`" + (f" with {_listed(written)}" if written else "")
    else:
        signature = f"`{_header(code, node)}`"
    summary = " ".join((ast.get_docstring(node) or "").split("\n\n")[0].split())
    return (f"{signature}: {summary}" if summary else signature).replace("|", "\\|")


def _header(code, node):
    """A def's or class's header as written (defaults as the author spelled them), on one line."""
    lines = [line for line in code.splitlines()[node.lineno - 1:node.body[0].lineno - 1]
             if not line.strip().startswith("#")]
    header = re.match(r"\s*(?:def|class)\s+(.*?)\s*(->[^:]*)?:\s*$", " ".join(lines), re.DOTALL)
    if header is None:  # a one-line def, a comment after the colon: as Python reads it
        bases = ", ".join(ast.unparse(b) for b in getattr(node, "bases", []))
        return f"{node.name}({ast.unparse(node.args) if hasattr(node, 'args') else bases})"
    return re.sub(r"\s+", " ", header.group(1)).replace("( ", "(").replace(" )", ")")
