"""Reading a submitted notebook, and the program the sandbox will run from it.

The student's notebook contributes only the source of its answer cells, matched to the
instructor's source notebook by nbgrader `grade_id`. Setup cells come from the
instructor's notebook, so deleting, reordering or editing locked cells changes nothing.
"""

import dataclasses
import json
import re
from pathlib import Path

import nbformat

from grader import assignments

MAX_NOTEBOOK_BYTES = 8 << 20
MAX_CELLS = 2000
MAX_CELL_CHARS = 200_000
_LINE_MAGIC = re.compile(r"^(\s*)[%!].*$")
_SAFE_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")


class NotebookError(Exception):
    """The submission cannot be graded; `errors` says why, one sentence each."""

    def __init__(self, *errors):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclasses.dataclass
class Program:
    assignment: str
    cells: list          # [{"id": grade_id, "source": code}] in the order the sandbox runs them
    answers: dict        # grade_id -> the student's source for that answer cell
    notes: list          # what was dropped or missing, for the feedback


def read(raw):
    """Parse bytes as an nbformat v4 notebook, refusing what is not one."""
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"the file is {len(raw) / 2**20:.1f} MiB; a notebook may be at most "
                            f"{MAX_NOTEBOOK_BYTES >> 20} MiB")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise NotebookError(f"the file is not a Jupyter notebook (not valid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("nbformat") != 4 or "cells" not in data:
        raise NotebookError("the file is not a Jupyter notebook in format version 4")
    if len(data["cells"]) > MAX_CELLS:
        raise NotebookError(f"the notebook has {len(data['cells'])} cells; at most {MAX_CELLS} are accepted")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except (nbformat.ValidationError, nbformat.reader.NotJSONError) as exc:
        raise NotebookError(f"the notebook is not valid nbformat 4: {exc.message}") from None
    return notebook


def guess_assignment(notebook, path=None):
    """The assignment a notebook belongs to: its file or folder name, else its answer cells."""
    known = assignments.names()
    if path is not None:
        path = Path(path)
        for candidate in (path.stem, path.parent.name):
            if candidate in known:
                return candidate
    ids = {grade_id(cell) for cell in notebook.cells} - {None}
    overlap = {a: len(ids & answer_ids(a)) for a in known}
    best = max(overlap, key=overlap.get, default=None)
    if best is None or overlap[best] == 0:
        raise NotebookError("the notebook belongs to no known assignment (no answer cell of "
                            f"{', '.join(known)} was found); pass the assignment name")
    return best


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def answer_ids(assignment):
    return {grade_id(c) for c in _source(assignment).cells if _is_answer(c)}


def build_program(notebook, assignment):
    if assignment not in assignments.names():
        raise NotebookError(f"unknown assignment {assignment!r}; this grader knows "
                            f"{', '.join(assignments.names())}")
    submitted = _answers_by_id(notebook)
    cells, answers, notes = [], {}, []
    for cell in _source(assignment).cells:
        if _is_setup(cell):
            cells.append({"id": grade_id(cell), "source": cell.source})
        elif _is_answer(cell):
            cid = grade_id(cell)
            found = submitted.get(cid, [])
            if not found:
                notes.append(f"the answer cell `{cid}` is missing from the notebook (deleted?)")
                continue
            if len(found) > 1:
                notes.append(f"the answer cell `{cid}` appears {len(found)} times; the first one was graded")
            if found[0].cell_type != "code":
                notes.append(f"the answer cell `{cid}` was turned into {found[0].cell_type}; "
                             "its text was graded as code, as nbgrader does")
            source, dropped = strip_magics(found[0].source)
            if dropped:
                notes.append(f"IPython magics and shell commands in `{cid}` were ignored: {', '.join(dropped)}")
            cells.append({"id": cid, "source": source})
            answers[cid] = source
    return Program(assignment, cells, answers, notes)


def strip_magics(source):
    """Replace IPython magics and shell escapes with `pass`, keeping line numbers."""
    if len(source) > MAX_CELL_CHARS:
        return "raise MemoryError('this cell is too long to grade')", ["a cell over 200,000 characters"]
    lines, dropped = source.split("\n"), []
    if lines and lines[0].startswith("%%"):
        dropped.append(lines[0].strip())
        if not lines[0].startswith(_SAFE_CELL_MAGICS):
            return "", dropped
        lines[0] = ""
    for i, line in enumerate(lines):
        match = _LINE_MAGIC.match(line)
        if match and not _inside_expression(lines, i):
            dropped.append(line.strip())
            lines[i] = f"{match.group(1)}pass"
    return "\n".join(lines), dropped


def _inside_expression(lines, i):
    """A line starting with % may continue an expression (a modulo); leave those alone."""
    previous = lines[i - 1].rstrip() if i else ""
    return previous.endswith(("\\", "(", "[", "{", ","))


def _answers_by_id(notebook):
    """The submitted cells by grade_id, whatever their type: a student who pressed M by
    mistake still meant code (nbgrader restores the type too)."""
    found = {}
    for cell in notebook.cells:
        if grade_id(cell):
            found.setdefault(grade_id(cell), []).append(cell)
    return found


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_answer(cell):
    return cell.cell_type == "code" and _nbgrader(cell).get("solution", False)


def _is_setup(cell):
    meta = _nbgrader(cell)
    return (cell.cell_type == "code" and meta.get("locked", False)
            and not meta.get("solution", False) and not meta.get("grade", False))


_sources = {}


def _source(assignment):
    path = assignments.source_notebook(assignment)
    key = (path, path.stat().st_mtime_ns)
    if key not in _sources:
        _sources[key] = nbformat.read(path, as_version=4)
    return _sources[key]
