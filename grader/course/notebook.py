"""Reading a submitted notebook, and the program the sandbox will run from it.

What the student ran is what is graded: the program is every code cell of the submitted
notebook, in the submission's order, as Jupyter's "Restart & Run All" would run it, except
that

- every *locked* cell (nbgrader's setup, read-only and visible-check cells) runs as the
  instructor wrote it, taken from the source notebook by `grade_id`, and a locked cell the
  student deleted still runs, where it stood among the other instructor cells;
- hidden test cells (`hidden_<exercise>`) never run: the hidden suite is the grader's;
- an answer cell that appears more than once (Jupyter's copy and paste keeps its metadata)
  runs every copy in order, as Run All does, and the last copy is the answer; an answer
  cell turned into markdown still runs as code;
- cells the student added and the unlocked given cells (demonstrations) run as submitted,
  labelled by their position ("cell 12") in notes and error messages;
- the sandbox runs each cell with IPython's own machinery (magics, shell escapes, display),
  as a kernel does; static checks read each cell as the Python IPython turns it into.

Outputs and attachments are never graded, so they are dropped before any size limit applies.
"""

import collections
import dataclasses
import json
import re
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

from grader.course import assignments

MAX_NOTEBOOK_BYTES = 64 << 20   # the file as uploaded, outputs included
MAX_SOURCE_BYTES = 4 << 20      # what is graded: the code, once outputs are dropped
MAX_CELLS = 2000
MAX_CELL_CHARS = 200_000
MAX_JSON_DEPTH = 64
CELL_SEPARATOR = "\n\n# --- cell ---\n"


class NotebookError(Exception):
    """The submission cannot be graded; `errors` says why, one sentence each."""

    def __init__(self, *errors):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclasses.dataclass
class Program:
    assignment: str
    cells: list          # [{"id": label, "source": code}] in the order the sandbox runs them, as written
    answers: dict        # grade_id -> the Python of that answer cell (its last copy), magics transformed
    student_code: str    # the Python of every cell the student wrote or changed, joined by CELL_SEPARATOR
    notes: list          # what was dropped, moved or missing, for the feedback
    python: dict = dataclasses.field(default_factory=dict)  # label -> that cell's Python, for every cell run


def read(raw):
    """Parse bytes as a notebook (nbformat 4, or an older format upgraded), outputs dropped."""
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"the file is {len(raw) / 2**20:.1f} MiB; a notebook may be at most "
                            f"{MAX_NOTEBOOK_BYTES >> 20} MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        detail = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise NotebookError(f"the file is not a Jupyter notebook (not valid JSON: {detail})") from None
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        raise NotebookError("the file is not a Jupyter notebook (no nbformat version)")
    if _depth(data) > MAX_JSON_DEPTH:
        raise NotebookError(f"the notebook's JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    _drop_outputs(data)
    try:
        notebook = nbformat.converter.convert(nbformat.reader.reads(json.dumps(data)), 4)
        notebook = _repaired(notebook)
        nbformat.validate(notebook)
    except (nbformat.ValidationError, nbformat.reader.NotJSONError) as exc:
        raise NotebookError(f"the notebook is not valid nbformat 4: {_short(exc)}") from None
    except Exception as exc:  # nbformat's converters raise all sorts on malformed old formats
        raise NotebookError(f"the notebook could not be read as nbformat 4: {_short(exc)}") from None
    if len(notebook.cells) > MAX_CELLS:
        raise NotebookError(f"the notebook has {len(notebook.cells)} cells; at most {MAX_CELLS} are accepted")
    code_bytes = sum(len(c.source.encode()) for c in notebook.cells)
    if code_bytes > MAX_SOURCE_BYTES:
        raise NotebookError(f"the notebook's cells hold {code_bytes / 2**20:.1f} MiB of text without "
                            f"their outputs; at most {MAX_SOURCE_BYTES >> 20} MiB are graded")
    return notebook


_CELL_KEYS = {"code": {"id", "cell_type", "metadata", "source", "outputs", "execution_count"},
              "markdown": {"id", "cell_type", "metadata", "source", "attachments"},
              "raw": {"id", "cell_type", "metadata", "source", "attachments"}}
_NOTEBOOK_KEYS = {"metadata", "nbformat", "nbformat_minor", "cells"}
_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def _repaired(notebook):
    """What Jupyter repairs when it opens a notebook, repaired here too: the minor version
    (VS Code saves 4.2 with cell ids), missing, malformed or duplicate cell ids, keys the
    format does not know, metadata of the wrong shape. What is left invalid is refused."""
    for key in set(notebook) - _NOTEBOOK_KEYS:
        del notebook[key]
    notebook.nbformat_minor = max(_as_int(notebook.get("nbformat_minor")), nbformat.v4.nbformat_minor)
    cells = notebook.get("cells")
    if isinstance(cells, list):
        _repair_cells(cells)
    return nbformat.validator.normalize(notebook, 4, notebook.nbformat_minor,
                                        strip_invalid_metadata=True)[1]


def _repair_cells(cells):
    taken = set()
    for position, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        for key in set(cell) - _CELL_KEYS.get(cell.get("cell_type"), set(cell)):
            del cell[key]
        cid = cell.get("id")
        if not (isinstance(cid, str) and _CELL_ID.match(cid)) or cid in taken:
            cid = next(f"cell-{position}-{n}" for n in range(len(cells) + 1)
                       if f"cell-{position}-{n}" not in taken)
            cell["id"] = cid
        taken.add(cid)


def _as_int(value):
    return value if isinstance(value, int) else 0


def _short(exc):
    text = getattr(exc, "message", None) or str(exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _depth(node, level=0):
    """The nesting depth of parsed JSON, without recursion (a hostile file is deep)."""
    deepest, stack = level, [(node, level)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _drop_outputs(data):
    """Outputs, execution counts and attachments are never graded: drop them first."""
    cells = data.get("cells")
    if not isinstance(cells, list):  # nbformat 3 keeps cells in worksheets
        cells = [c for w in data.get("worksheets", []) if isinstance(w, dict)
                 for c in w.get("cells", []) if isinstance(c, dict)]
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        if "outputs" in cell:
            cell["outputs"] = []
        if "execution_count" in cell:
            cell["execution_count"] = None
        if "prompt_number" in cell:
            cell["prompt_number"] = None
        cell.pop("attachments", None)


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
    meta = cell.get("metadata", {}).get("nbgrader", {})
    value = meta.get("grade_id") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def answer_ids(assignment):
    return {grade_id(c) for c in _source(assignment).cells if _is_answer(c)}


def build_program(notebook, assignment):
    if assignment not in assignments.names():
        raise NotebookError(f"unknown assignment {assignment!r}; this grader knows "
                            f"{', '.join(assignments.names())}")
    return _ProgramBuilder(_source(assignment), assignment).build(notebook)


def _given_sources(assignment):
    """The code cells the released notebook gives without nbgrader metadata (demonstrations)."""
    path = assignments.released_notebook(assignment)
    if not path.is_file():
        return set()
    return {c.source.strip() for c in _read_cached(path).cells if c.cell_type == "code" and not grade_id(c)}


class _ProgramBuilder:
    """Walks the submission in order, putting the instructor's locked cells where they belong."""

    def __init__(self, source, assignment):
        self.assignment = assignment
        self.source_cells = {grade_id(c): c for c in source.cells if grade_id(c)}
        self.order = [grade_id(c) for c in source.cells if grade_id(c)]
        self.locked = [cid for cid in self.order if _is_locked_code(self.source_cells[cid])]
        self.cells, self.answers, self.student_parts, self.notes = [], {}, [], []
        self.python = {}
        self.seen = set()
        self.given = _given_sources(assignment)

    def build(self, notebook):
        self.positions = collections.defaultdict(list)
        for position, cell in enumerate(notebook.cells, start=1):
            self.positions[grade_id(cell)].append(position)
        for position, cell in enumerate(notebook.cells, start=1):
            cid = grade_id(cell)
            if cid in self.source_cells:
                self._instructor_cell(cid, cell, position)
            elif cell.cell_type == "code":
                self._student_cell(cell, f"cell {position}")
        self._locked_before(None)
        self._missing_answers()
        return Program(self.assignment, self.cells, self.answers,
                       CELL_SEPARATOR.join(self.student_parts), self.notes, self.python)

    def _instructor_cell(self, cid, submitted, position):
        original = self.source_cells[cid]
        if cid in self.seen and not (_is_answer(original) or _is_editable_given(original)):
            return  # a copy of a locked cell: the instructor's runs once
        self._locked_before(cid)
        self.seen.add(cid)
        if _is_hidden_test(original) or original.cell_type != "code":
            return
        if _is_locked_code(original):
            self._run(cid, original.source)
        elif _is_answer(original):
            self._answer(cid, submitted, position)
        elif submitted.cell_type == "code":  # an unlocked given cell with an id: runs as submitted
            self._student_cell(submitted, f"cell {position} ({cid})")

    def _locked_before(self, cid):
        """Locked instructor cells the submission lacks (deleted) that come before `cid`."""
        stop = self.order.index(cid) if cid is not None else len(self.order)
        for earlier in self.order[:stop]:
            if earlier in self.locked and earlier not in self.seen:
                self.seen.add(earlier)
                if not _is_hidden_test(self.source_cells[earlier]):
                    self._run(earlier, self.source_cells[earlier].source)

    def _answer(self, cid, submitted, position):
        """Every copy of an answer cell runs where it stands; the last one is the answer
        (its label is the grade_id, which checks ask about)."""
        copies = self.positions[cid]
        last = position == copies[-1]
        if submitted.cell_type != "code" and last:
            self.notes.append(f"the answer cell `{cid}` was turned into {submitted.cell_type}; "
                              "its text was graded as code, as nbgrader does")
        if len(copies) > 1 and last:
            self.notes.append(f"the answer cell `{cid}` appears {len(copies)} times (cells "
                              f"{_listed(copies)}); all ran in order, as Run All does, and the last "
                              f"one (cell {position}) counts")
        label = cid if last else f"cell {position} (an earlier copy of `{cid}`)"
        python = self._run(label, submitted.source)
        self.student_parts.append(python)  # every copy is code the student wrote and ran
        if last:
            self.answers[cid] = python

    def _student_cell(self, cell, label):
        python = self._run(label, cell.source)
        if cell.source.strip() not in self.given:  # an unchanged demonstration is not the student's code
            self.student_parts.append(python)

    def _missing_answers(self):
        for cid in self.order:
            if _is_answer(self.source_cells[cid]) and cid not in self.answers:
                self.notes.append(f"the answer cell `{cid}` is missing from the notebook (deleted?)")

    def _run(self, label, source):
        """Add a cell to the program; returns its Python (for static checks)."""
        if len(source) > MAX_CELL_CHARS:
            self.notes.append(f"`{label}` is over {MAX_CELL_CHARS:,} characters and was not run")
            source = "raise MemoryError('this cell is too long to grade')"
        self.cells.append({"id": label, "source": source})
        self.python[label] = python_source(source)
        return self.python[label]


def python_source(source):
    """A cell as the Python IPython runs (magics and `!` lines become calls), for static checks
    that parse it; the source as it is where IPython cannot transform it."""
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001  (IPython's transformers on arbitrary text)
        return source


def _listed(positions):
    return ", ".join(map(str, positions[:-1])) + f" and {positions[-1]}"


def _is_editable_given(cell):
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and not meta.get("locked", False) and not meta.get("solution", False)


def _nbgrader(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _is_answer(cell):
    return cell.cell_type == "code" and _nbgrader(cell).get("solution", False)


def _is_locked_code(cell):
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and meta.get("locked", False) and not meta.get("solution", False)


def _is_hidden_test(cell):
    return (grade_id(cell) or "").startswith("hidden_")


_notebooks = {}


def _source(assignment):
    return _read_cached(assignments.source_notebook(assignment))


def _read_cached(path):
    key = (path, path.stat().st_mtime_ns)
    if key not in _notebooks:
        _notebooks[key] = nbformat.read(path, as_version=4)
    return _notebooks[key]
