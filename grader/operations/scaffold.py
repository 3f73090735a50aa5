"""`convgrade new-exercise ASSIGNMENT NAME`: everything a new exercise needs, in the places the
grader reads it from, so that an author fills in answers and checks instead of copying them.

It writes
- into the instructor notebook, before its closing section: a heading, the answer cell, the
  visible-check cell and the hidden-test cell, each with the nbgrader metadata of a cell of the
  same kind that the course already has (solutions/README.md);
- the hidden suite `autograde_tests/<assignment>/test_<name>.py`, from `scaffold_suite.py.tmpl`;
- corpus stubs in `tests/corpus/<assignment>/`: one wrong answer to write per check of that
  suite and one correct answer written differently, each marked `# todo:` until it is filled.
Nothing is overwritten: it refuses when any of it exists. `convgrade release` then gives the
hidden-test cell its points and lists the checks (grader/operations/release.py).
"""

import ast
import copy
import keyword
import re
from pathlib import Path

import nbformat

from grader.course import assignments, notebook

TEMPLATE = Path(__file__).with_name("scaffold_suite.py.tmpl")
CORPUS = Path("tests/corpus")
CHECK_PREFIX, HIDDEN_PREFIX = "check_", "hidden_"  # the grade_ids of an exercise's cells (solutions/README.md)

HEADING = """## {number}. Exercise: `{name}`
## {number}. 연습 문제: `{name}`

TODO: what `{name}` computes, its arguments, and what it returns (shape, dtype, device).

TODO: `{name}`이 계산하는 것, 인자, 반환값(모양, dtype, 장치)을 설명합니다.
"""

ANSWER = '''def {name}(X, K):
    """TODO: what {name} computes; the parameters (X, K stand in for the real ones); what it returns."""
    ### BEGIN SOLUTION
    raise NotImplementedError("TODO: the reference answer of {name}")
    ### END SOLUTION
'''

VISIBLE_CHECK = """# TODO: a few asserts on small inputs that a student can run (sanity only: the hidden checks grade).
print("{name}: sanity checks passed")
"""

# nbgrader's door (grader/doors/nbgrader_bridge.py) scores the exercise from this cell.
HIDDEN_TEST = """# When this notebook is graded, the hidden checks of `{name}` run here.
### BEGIN HIDDEN TESTS
from grader.doors.nbgrader_bridge import score_exercise
score_exercise("{assignment}", "{name}", globals())
### END HIDDEN TESTS
"""

WRONG_ENTRY = """# TODO: one realistic wrong answer that loses {check} and no other check: say the mistake
# here, name it in the file's name, add `# diagnosis: <id>` once MISTAKES catalogues it, then delete
# the `# todo:` line (tests/submissions.py describes the format).
# todo: the wrong answer this entry plants
# loses: {check}
# cell: {name}
def {name}(X, K):
    raise NotImplementedError("TODO: a wrong answer that loses {check}")
"""

CORRECT_ENTRY = """# TODO: a correct answer written differently from the reference (vectorised, a public solution
# adapted, helpers in an added cell), then delete the `# todo:` line (tests/submissions.py).
# todo: a correct answer written differently from the reference
# loses:
# cell: {name}
def {name}(X, K):
    raise NotImplementedError("TODO: a correct answer of {name}")
"""


class ScaffoldError(Exception):
    """The exercise cannot be scaffolded; the message says why, in one sentence."""


def new_exercise(assignment, name, course=None):
    """Write the new exercise `name` of `assignment` into the course at `course` (the grader's
    own course by default); returns the paths written, notebook first."""
    course = Path(course or assignments.COURSE_DIR)
    source = _in_course(course, assignments.source_notebook(assignment))
    suite = _in_course(course, assignments.suite_dir(assignment))
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ScaffoldError(f"{name!r} is not a Python identifier, so it cannot name a function or class of the "
                            "student API")
    if not source.is_file():
        raise ScaffoldError(f"no assignment {assignment}: {source} does not exist")
    if not (suite / "__init__.py").is_file():
        raise ScaffoldError(f"no hidden suite for {assignment}: {suite / '__init__.py'} does not exist")
    nb = nbformat.read(source, as_version=4)
    cells = _exercise_cells(nb, course, assignment, name)
    suite_file = suite / f"test_{name}.py"
    if suite_file.exists():
        raise ScaffoldError(f"{suite_file} exists already")
    suite_text = TEMPLATE.read_text().format(assignment=assignment, name=name)
    stubs = _corpus_stubs(course / CORPUS / assignment, name, _checks_in(suite_text))
    taken = [path for path in stubs if path.exists()]
    if taken:
        raise ScaffoldError(f"{taken[0]} exists already")

    at = _closing_section(nb)
    nb.cells[at:at] = cells
    nbformat.write(nb, source)
    suite_file.write_text(suite_text)
    for path, text in stubs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return [source, suite_file, *stubs]


def _in_course(course, path):
    """`path` of the grader's own course, in the course at `course`."""
    return course / Path(path).relative_to(assignments.COURSE_DIR)


def _exercise_cells(nb, course, assignment, name):
    """The new exercise's cells: its heading, then its answer, visible-check and hidden-test cells,
    each with the metadata of the same cell of an exercise the course has."""
    ids = {notebook.grade_id(c) for c in nb.cells}
    for cell_id in (name, CHECK_PREFIX + name, HIDDEN_PREFIX + name):
        if cell_id in ids:
            raise ScaffoldError(f"{assignment} has an exercise {name} already (its notebook has a cell {cell_id})")
    answer, visible, hidden = _donor(nb, course)
    texts = {"name": name, "assignment": assignment}
    heading = nbformat.v4.new_markdown_cell(HEADING.format(number=_next_section(nb), **texts).rstrip("\n"))
    made = [heading]
    for donor, cell_id, text in ((answer, name, ANSWER), (visible, CHECK_PREFIX + name, VISIBLE_CHECK),
                                 (hidden, HIDDEN_PREFIX + name, HIDDEN_TEST)):
        cell = nbformat.v4.new_code_cell(text.format(**texts).rstrip("\n"))
        meta = {**copy.deepcopy(donor.metadata["nbgrader"]), "grade_id": cell_id}
        if "points" in meta:
            meta["points"] = 0  # the suite's to say: release writes them
        cell.metadata["nbgrader"] = meta
        made.append(cell)
    return made


def _donor(nb, course):
    """(answer, visible check, hidden test) cells of one exercise, from this notebook or, for an
    assignment with no exercise yet, from another notebook of the course."""
    others = sorted((course / "solutions").glob("*/*.ipynb"))
    for book in [nb, *(nbformat.read(path, as_version=4) for path in others)]:
        by_id = {notebook.grade_id(c): c for c in book.cells if notebook.grade_id(c)}
        for cell in book.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                exercise = notebook.grade_id(cell)
                kin = [by_id.get(CHECK_PREFIX + exercise), by_id.get(HIDDEN_PREFIX + exercise)]
                if all(kin):
                    return cell, *kin
    raise ScaffoldError("no notebook of the course has an exercise to take the cells' nbgrader metadata from "
                        "(an answer cell with its check_ and hidden_ cells)")


def _closing_section(nb):
    """Where the new exercise goes: before the notebook's last section (its summary) when that
    comes after every exercise, else at the end."""
    headings = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## ")]
    graded = [i for i, c in enumerate(nb.cells) if notebook.grade_id(c)]
    if headings and (not graded or headings[-1] > graded[-1]):
        return headings[-1]
    return len(nb.cells)


def _next_section(nb):
    numbers = [int(m.group(1)) for c in nb.cells if c.cell_type == "markdown"
               for m in re.finditer(r"^## (\d+)\.", c.source, re.MULTILINE)]
    return max(numbers, default=0) + 1


def _checks_in(suite_text):
    """The test functions of a suite that are checks (decorated with `check(...)`), in file order."""
    def is_check(decorator):
        called = decorator.func if isinstance(decorator, ast.Call) else decorator
        return getattr(called, "id", getattr(called, "attr", None)) == "check"
    return [node.name for node in ast.parse(suite_text).body
            if isinstance(node, ast.FunctionDef) and any(is_check(d) for d in node.decorator_list)]


def _corpus_stubs(folder, name, checks):
    """{path: text} of the corpus stubs: one wrong answer per check, one correct answer."""
    stubs = {folder / f"todo_{check.removeprefix('test_')}.py": WRONG_ENTRY.format(name=name, check=check)
             for check in checks}
    stubs[folder / f"todo_correct_{name}.py"] = CORRECT_ENTRY.format(name=name)
    return stubs
