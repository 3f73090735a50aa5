"""`convgrade release`: regenerate exercises/ from solutions/ with nbgrader's generate_assignment.

Before releasing, each source notebook is brought in line with its hidden suite, the one
source of truth for points: every `hidden_<exercise>` test cell gets the exercise's
points, and the "what the grader checks" cell lists every check by name.
"""

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


def release(names=None, progress=False):
    """Release each assignment; returns (the released notebooks, the source notebooks whose points
    or checklist were brought in line with the suite). progress: a bar on a terminal (stderr)."""
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
