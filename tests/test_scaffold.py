"""`convgrade new-exercise`, proven on a copy of the course (CONVGRADE_COURSE_DIR): a new a2
exercise `corr2d_dilated(X, K, dilation=(1, 1))` is scaffolded, its reference answer written
into the notebook's answer cell and its suite's placeholders filled, then `convgrade release`
and real gradings show that release syncs it, the reference gets full marks, the released
stub none, every scaffolded check fails on a planted mistake, and that no file but those the
scaffold wrote needed an edit. One release and eight gradings: 25 to 35 s of CPU (55 to 120 s
of wall time on 2 shared cores).
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import submissions
from submissions import CorpusEntry

REPO = Path(__file__).resolve().parents[1]
A2 = "a2_padding_stride_channels"
NAME = "corr2d_dilated"
NOTEBOOK = f"solutions/{A2}/{A2}.ipynb"
SUITE = f"autograde_tests/{A2}/test_{NAME}.py"
SEED = 13


def answer(body):
    """An answer cell of corr2d_dilated with `body` (indented lines) between the solution markers."""
    return (f'def {NAME}(X, K, dilation=(1, 1)):\n'
            '    """2-D cross-correlation of X (H, W) with K (h, w), the kernel\'s taps `dilation` apart."""\n'
            f"    ### BEGIN SOLUTION\n{body}    ### END SOLUTION")


LOOP = """    d_h, d_w = (dilation, dilation) if isinstance(dilation, int) else dilation
    h, w = K.shape
    out_h, out_w = X.shape[0] - d_h * (h - 1), X.shape[1] - d_w * (w - 1)
    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            Y[i, j] = (X[i:i + d_h * (h - 1) + 1:d_h, j:j + d_w * (w - 1) + 1:d_w] * K).sum()
    return Y
"""
REFERENCE = answer(LOOP)

# One realistic wrong answer per kind of mistake the scaffolded checks aim at.
MISTAKES = {
    "dilation_ignored": answer("    return corr2d(X, K)  # the notebook's given corr2d\n"),
    "one_row_short": answer(LOOP.replace("out_h, out_w = X.shape[0] - d_h * (h - 1),",
                                         "out_h, out_w = X.shape[0] - d_h * (h - 1) - 1,")),
    "float32_output": answer(LOOP.replace("dtype=X.dtype, device", "dtype=torch.float32, device")),
    "no_graph": answer(LOOP.replace("Y[i, j] = (", "Y[i, j] = float((").replace("* K).sum()", "* K).sum())")),
    "pairs_only": answer(LOOP.replace("(dilation, dilation) if isinstance(dilation, int) else dilation",
                                      "dilation")),
    "uses_f_conv2d": answer("    return F.conv2d(X[None, None], K[None, None], dilation=dilation)[0, 0]\n"),
}

# The suite's placeholders, filled as an author fills them: each replaces the top-level
# definition of that name in the scaffolded suite.
SUITE_FILLS = {
    "reference": '''def reference(X, K, **settings):
    """torch's dilated cross-correlation."""
    return F.conv2d(X[None, None], K[None, None], **settings)[0, 0]''',
    "worked_examples": '''def worked_examples(device):
    X = torch.arange(16.0, device=device).reshape(4, 4)
    return [(X, torch.ones(2, 2, device=device), {"dilation": (2, 2)}),
            (X[:3, :3], torch.arange(4.0, device=device).reshape(2, 2), {})]''',
    "CASES": '''CASES = [
    ((7, 9), (2, 3), {"dilation": (2, 3)}, torch.float32),
    ((8, 6), (3, 2), {"dilation": (1, 2)}, torch.float64),
    ((6, 6), (3, 3), {"dilation": (2, 2)}, torch.float32),
    ((5, 8), (1, 3), {"dilation": (3, 2)}, torch.float64),
    ((9, 7), (2, 2), {}, torch.float64),
]''',
    "INT_SETTINGS": 'INT_SETTINGS = [{"dilation": 2}, {"dilation": 1}]',
    "FORBIDDEN": 'FORBIDDEN = ["conv2d", "Conv2d", "convolution", "unfold", "Unfold"]',
    "FORBIDDEN_REASON": 'FORBIDDEN_REASON = "compute the dilated windows yourself, without torch\'s convolution"',
}

# Grades each submission in one process on the course of CONVGRADE_COURSE_DIR: stdin is
# {label: answers}, null for the released stubs; stdout is {label: result}.
GRADE_ALL = f"""
import json, sys
from grader.engine.grading import grade
from submissions import make_submission
asked = json.load(sys.stdin)
print(json.dumps({{label: grade(make_submission({A2!r}, answers) if answers is not None
                                else make_submission({A2!r}, reference=False), {A2!r}, seed={SEED})
                  for label, answers in asked.items()}}))
"""


def course_copy(root):
    """A git repository holding a2 as the course has it: what release and grading read."""
    for part in (f"solutions/{A2}", f"exercises/{A2}", f"autograde_tests/{A2}", f"tests/corpus/{A2}"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    for shared in (REPO / "autograde_tests").glob("*.py"):
        shutil.copy(shared, root / "autograde_tests")
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "docs", root / "docs", ignore=shutil.ignore_patterns("*.png"))  # release may write one
    git(root, "init", "-q")
    (root / ".git/info/exclude").write_text("__pycache__/\n")
    git(root, "add", "-A")
    git(root, "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-qm", "the course")
    return root


def git(root, *args):
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def changed(root):
    """The paths that differ from the committed course, untracked files one by one."""
    return {line[3:] for line in git(root, "status", "--porcelain", "--untracked-files=all").splitlines()}


def environment(course):
    return {**os.environ, "CONVGRADE_COURSE_DIR": str(course),
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}


def convgrade(course, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True,
                          input=stdin, timeout=600, env=environment(course), cwd=course)


def filled(text, name, definition):
    """`text` with the top-level definition of `name` (a function or an assignment) replaced."""
    for node in ast.parse(text).body:
        targets = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if getattr(node, "name", None) == name or targets == [name]:
            lines = text.splitlines(keepends=True)
            return "".join(lines[:node.lineno - 1]) + definition + "\n" + "".join(lines[node.end_lineno:])
    raise AssertionError(f"the scaffolded suite has no top-level `{name}` to fill")


def flags(cell):
    """A cell's nbgrader metadata but its id and points: what makes it a cell of its kind."""
    return {key: value for key, value in cell.metadata["nbgrader"].items() if key not in ("grade_id", "points")}


def cells_by_id(path):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(path, as_version=4).cells}


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    """The copy after `new-exercise`, the two fills and `release`; what each step left."""
    course = course_copy(tmp_path_factory.mktemp("course"))
    before = nbformat.read(course / NOTEBOOK, as_version=4)
    made = convgrade(course, "new-exercise", A2, NAME, "--course", str(course))
    assert made.returncode == 0, made.stderr
    written = changed(course)

    book = nbformat.read(course / NOTEBOOK, as_version=4)
    cell = next(c for c in book.cells if c.metadata.get("nbgrader", {}).get("grade_id") == NAME)
    cell.source = REFERENCE
    nbformat.write(book, course / NOTEBOOK)
    suite = (course / SUITE).read_text()
    for name, definition in SUITE_FILLS.items():
        suite = filled(suite, name, definition)
    (course / SUITE).write_text(suite)

    released = convgrade(course, "release")
    assert released.returncode == 0, released.stderr
    return {"course": course, "before": before, "written": written, "made": made}


@pytest.fixture(scope="module")
def graded(scaffolded):
    asked = {"reference": {}, "stub": None, **{label: {NAME: source} for label, source in MISTAKES.items()}}
    run = subprocess.run([sys.executable, "-c", GRADE_ALL], input=json.dumps(asked), capture_output=True,
                         text=True, timeout=600, env=environment(scaffolded["course"]))
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout)


def test_the_scaffold_writes_the_cells_the_suite_and_corpus_stubs_and_nothing_else(scaffolded):
    course, written = scaffolded["course"], scaffolded["written"]
    stubs = {p for p in written if p.startswith(f"tests/corpus/{A2}/")}
    assert written == {NOTEBOOK, SUITE} | stubs, written
    assert f"{NAME}'s cells" in scaffolded["made"].stderr and "convgrade release" in scaffolded["made"].stderr
    # the notebook: the exercise's cells inserted, before the closing summary, every other cell as it was
    # (but those release writes, marked `convgrade`); the kinds' nbgrader flags as the course's own cells
    after = nbformat.read(course / NOTEBOOK, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in after.cells]
    new = range(ids.index(NAME) - 1, ids.index(NAME) + 3)
    assert [ids[i] for i in new] == [None, NAME, f"check_{NAME}", f"hidden_{NAME}"], ids
    assert f"Exercise: `{NAME}`" in after.cells[new[0]].source
    assert after.cells[new[-1] + 1].source.startswith("## Summary")
    kept = [c for i, c in enumerate(after.cells) if i not in new]
    assert len(kept) == len(scaffolded["before"].cells)
    for old, now in zip(scaffolded["before"].cells, kept):
        assert old.metadata.get("convgrade") or (old.source, old.metadata) == (now.source, now.metadata)
    by_id = cells_by_id(course / NOTEBOOK)
    for cell_id in (NAME, f"check_{NAME}", f"hidden_{NAME}"):  # the flags of an existing exercise's cells
        kin = by_id[cell_id.replace(NAME, "corr2d_multi_in")]
        assert flags(by_id[cell_id]) == flags(kin), cell_id
    # the corpus stubs: one wrong answer per scaffolded check, one correct, each unfilled
    checks = {node.name for node in ast.parse((course / SUITE).read_text()).body
              if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    entries = [CorpusEntry(course / path) for path in sorted(stubs)]
    assert all(e.todo for e in entries) and all(set(e.answers) == {NAME} for e in entries)
    assert sorted(len(e.loses) for e in entries) == [0] + [1] * len(checks)
    assert {check for e in entries for check in e.loses} == checks


def test_release_syncs_the_new_exercise(scaffolded):
    course = scaffolded["course"]
    source, released = cells_by_id(course / NOTEBOOK), cells_by_id(course / f"exercises/{A2}/{A2}.ipynb")
    stub = released[NAME].source  # the filled signature, nbgrader's stub in place of the answer
    assert f"def {NAME}(X, K, dilation=(1, 1))" in stub and "raise NotImplementedError()" in stub
    assert "range(out_h)" not in stub and "BEGIN SOLUTION" not in stub
    checklist = next(c for c in nbformat.read(course / NOTEBOOK, as_version=4).cells
                     if c.metadata.get("convgrade") == "checklist").source
    assert checklist.count(f"| `{NAME}` |") == 7, checklist
    assert source[f"hidden_{NAME}"].metadata["nbgrader"]["points"] == 7
    # release wrote the released notebook (and the student API page) and no source the scaffold did not
    generated = changed(course) - scaffolded["written"]
    assert f"exercises/{A2}/{A2}.ipynb" in generated and generated <= {f"exercises/{A2}/{A2}.ipynb",
                                                                     "docs/student-api.md"}, generated


def test_the_reference_gets_full_marks_and_the_stub_none(graded):
    reference, stub = graded["reference"], graded["stub"]
    ours = [t for t in reference["tests"] if t["exercise"] == NAME]
    assert len(ours) == 7 and all(t["status"] == "passed" for t in ours), submissions.dumps(reference)
    assert reference["score"] == reference["max_score"], submissions.dumps(reference)
    assert stub["gradable"] and stub["score"] == 0 and stub["max_score"] == reference["max_score"]


def test_every_scaffolded_check_fails_on_a_planted_mistake(graded):
    ours = {t["id"] for t in graded["reference"]["tests"] if t["exercise"] == NAME}
    lost = {label: submissions.failed_tests(graded[label]) for label in MISTAKES}
    for label, checks in lost.items():
        # each mistake costs only checks of the new exercise, and at least one
        assert checks and checks <= ours, (label, checks)
    assert set().union(*lost.values()) == ours, lost
    # a mistake in one aspect (dtype, the graph, ints for pairs) costs that aspect's check alone
    assert all(len(lost[label]) == 1 for label in ("float32_output", "no_graph", "pairs_only")), lost


def test_corpus_stubs_are_skipped_as_unfilled(scaffolded, monkeypatch):
    from test_corpus import test_corpus_entry_loses_exactly_its_checks as corpus_test

    monkeypatch.setattr(submissions, "CORPUS", scaffolded["course"] / "tests/corpus")
    stubs = {e.name for e in submissions.corpus(A2, unfilled=True)} - {e.name for e in submissions.corpus(A2)}
    assert len(stubs) == 8, stubs
    stub = next(e for e in submissions.corpus(A2, unfilled=True) if e.name in stubs)
    with pytest.raises(pytest.skip.Exception, match="unfilled"):
        corpus_test(stub)


def test_it_refuses_an_existing_exercise_an_unknown_assignment_and_a_name_that_is_no_identifier(tmp_path):
    course = course_copy(tmp_path)
    for args, reason in [((A2, "corr2d_multi_in"), f"{A2} has an exercise corr2d_multi_in already"),
                         (("a9_nope", NAME), "no assignment a9_nope"),
                         ((A2, "corr2d-dilated"), "'corr2d-dilated' is not a Python identifier"),
                         ((A2, "class"), "'class' is not a Python identifier")]:
        run = convgrade(course, "new-exercise", *args, "--course", str(course))
        assert run.returncode == 2 and run.stderr.startswith(f"convgrade: {reason}"), run.stderr
        assert len(run.stderr.splitlines()) == 1, run.stderr
    assert changed(course) == set()
    # a second run for the same name refuses, and leaves the first one's files as they were
    assert convgrade(course, "new-exercise", A2, NAME, "--course", str(course)).returncode == 0
    first = {path: (course / path).read_bytes() for path in changed(course)}
    again = convgrade(course, "new-exercise", A2, NAME, "--course", str(course))
    assert again.returncode == 2 and f"has an exercise {NAME} already" in again.stderr, again.stderr
    assert {path: (course / path).read_bytes() for path in changed(course)} == first
