"""Building submitted notebooks the way students make them: the released notebook with
its answer cells filled in.

A corpus file (tests/corpus/<assignment>/<name>.py) is a submission written as text:

    # loses: test_flipped_kernel test_conv2d_forward
    # cell: corr2d
    def corr2d(X, K):
        ...

`# loses:` names the hidden tests (function names) it must fail, and no others;
`# needs: cuda` marks a mistake only a GPU can reveal (skipped where there is none);
`# cell: <grade_id>` starts the source of one answer cell. Answer cells it does not
mention are filled with the reference solution.
"""

import json
import re
from pathlib import Path

import nbformat

from grader import assignments, notebook

CORPUS = Path(__file__).parent / "corpus"
_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.MULTILINE)


def reference_answers(assignment):
    """The instructor's answer cells, solution markers removed: what a perfect student writes."""
    source = nbformat.read(assignments.source_notebook(assignment), as_version=4)
    return {notebook.grade_id(c): _MARKERS.sub("", c.source)
            for c in source.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def make_submission(assignment, answers=None, reference=True):
    """The released notebook with answer cells replaced: `answers` over the reference (or the stubs)."""
    released = nbformat.read(assignments.released_notebook(assignment), as_version=4)
    filled = {**(reference_answers(assignment) if reference else {}), **(answers or {})}
    for cell in released.cells:
        cid = notebook.grade_id(cell)
        if cell.cell_type == "code" and cid in filled:
            cell.source = filled[cid]
    return nbformat.writes(released).encode()


class CorpusEntry:
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
        self.answers = {}
        for match in re.finditer(r"^# cell: (\S+)\n(.*?)(?=^# cell: |\Z)", text, re.MULTILINE | re.DOTALL):
            self.answers[match.group(1)] = match.group(2)
        if not self.answers:
            raise ValueError(f"{path}: no '# cell: <grade_id>' section")

    def submission(self):
        return make_submission(self.assignment, self.answers)

    def __repr__(self):
        return f"{self.assignment}/{self.name}"


def corpus(assignment=None):
    pattern = f"{assignment or '*'}/*.py"
    return [CorpusEntry(p) for p in sorted(CORPUS.glob(pattern))]


def failed_tests(result):
    return {t["id"] for t in result["tests"] if t["status"] != "passed"}


def dumps(result):
    return json.dumps(result, indent=1)[:4000]
