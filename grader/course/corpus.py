"""A corpus entry: a submitted notebook written as text, and the notebook it makes (the
released notebook with its answer cells filled in, as students make them). The project's
tests grade every entry of tests/corpus/; `convgrade grade ENTRY.py` grades one.

An entry (tests/corpus/<assignment>/<name>.py) reads:

    # loses: test_flipped_kernel test_conv2d_forward
    # cell: corr2d
    def corr2d(X, K):
        ...

`# loses:` names the hidden tests (function names) it must fail, and no others (empty for a
correct submission);
`# needs: cuda` marks a mistake only a GPU can reveal (skipped where there is none);
`# diagnosis: <mistake id>` names the catalogued mistake (autograde_tests/<assignment>/mistakes.py)
it plants, which its failed checks must name and no other (none without the line);
`# todo: <what to write>` marks a stub `convgrade new-exercise` wrote and nobody has filled yet
(tests/submissions.py's `corpus()` leaves it out; tests/test_corpus.py reports it as unfilled);
`# cell: <grade_id>` starts the source of one answer cell. Answer cells it does not
mention are filled with the reference solution.
`# added-cell: after <grade_id>` / `# added-cell: before <grade_id>` starts a code cell the
student added (helpers, imports) next to that cell, as Jupyter saves it: no nbgrader metadata.
`# saved-as: v3` writes the notebook in nbformat 3; `# output: <grade_id> <MiB>` gives that
cell a PNG output of that size (outputs are never graded, and must not block grading).
The folder an entry lies in names its assignment.
"""

import re
from pathlib import Path

import nbformat

from grader.course import assignments, notebook

_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.MULTILINE)


def reference_answers(assignment):
    """The instructor's answer cells, solution markers removed: what a perfect student writes."""
    source = nbformat.read(assignments.source_notebook(assignment), as_version=4)
    return {notebook.grade_id(c): _MARKERS.sub("", c.source)
            for c in source.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def make_submission(assignment, answers=None, reference=True, added=(), outputs=None, version=4):
    """The released notebook with answer cells replaced: `answers` over the reference (or the stubs).

    added: (where, grade_id, source) cells the student inserted, where "after" or "before";
    outputs: {grade_id: bytes of a PNG} shown as that cell's output; version: nbformat 4 or 3."""
    released = nbformat.read(assignments.released_notebook(assignment), as_version=4)
    filled = {**(reference_answers(assignment) if reference else {}), **(answers or {})}
    for cell in released.cells:
        cid = notebook.grade_id(cell)
        if cell.cell_type == "code" and cid in filled:
            cell.source = filled[cid]
        if cid in (outputs or {}):
            cell.outputs = [_image_output(outputs[cid])]
    for where, anchor, source in added:
        index = next((i for i, c in enumerate(released.cells) if notebook.grade_id(c) == anchor), None)
        if index is None:
            raise ValueError(f"no cell {anchor!r} in {assignment} to add a cell {where}")
        released.cells.insert(index + (where == "after"), nbformat.v4.new_code_cell(source))
    if version == 3:
        return nbformat.writes(nbformat.convert(released, 3), version=3).encode()
    return nbformat.writes(released).encode()


def _image_output(png):
    import base64
    return nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png).decode(),
                                                        "text/plain": "<Figure>"})


def fake_png(mebibytes):
    """A valid PNG header followed by noise: `mebibytes` MiB of output, as a large plot would be."""
    import random
    noise = random.Random(0).randbytes(int(mebibytes * (1 << 20)))
    return b"\x89PNG\r\n\x1a\n" + noise


class CorpusEntry:
    """One entry, read; `submission()` is the notebook it makes, as bytes. ValueError: not an entry."""

    def __init__(self, path):
        self.path = Path(path)
        self.assignment = self.path.parent.name
        self.name = self.path.stem
        text = self.path.read_text()
        loses = re.search(r"^# loses:(.*)$", text, re.MULTILINE)
        if loses is None:
            raise ValueError(f"{path}: no '# loses:' line")
        self.loses = set(loses.group(1).split())
        needs = re.search(r"^# needs:(.*)$", text, re.MULTILINE)
        self.needs = set(needs.group(1).split()) if needs else set()
        diagnosis = re.search(r"^# diagnosis:(.*)$", text, re.MULTILINE)
        self.diagnoses = set(diagnosis.group(1).split()) if diagnosis else set()
        todo = re.search(r"^# todo:(.*)$", text, re.MULTILINE)
        self.todo = todo.group(1).strip() if todo else None
        self.answers, self.added = {}, []
        sections = r"^# (cell: (\S+)|added-cell: (after|before) (\S+))\n(.*?)(?=^# cell: |^# added-cell: |\Z)"
        for match in re.finditer(sections, text, re.MULTILINE | re.DOTALL):
            if match.group(2):
                self.answers[match.group(2)] = match.group(5)
            else:
                self.added.append((match.group(3), match.group(4), match.group(5)))
        if not self.answers and not self.added:
            raise ValueError(f"{path}: no '# cell: <grade_id>' section")
        self.version = 3 if re.search(r"^# saved-as: v3$", text, re.MULTILINE) else 4
        self.outputs = {m.group(1): float(m.group(2))
                        for m in re.finditer(r"^# output: (\S+) ([\d.]+)$", text, re.MULTILINE)}

    def submission(self):
        outputs = {cid: fake_png(size) for cid, size in self.outputs.items()}
        return make_submission(self.assignment, self.answers, added=self.added, outputs=outputs,
                               version=self.version)

    def __repr__(self):
        return f"{self.assignment}/{self.name}"
