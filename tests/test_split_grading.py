"""A grading that finds a core free is split over two sandboxes run at once, each with the
program and half of the checks (grader.engine.grading, runner.run_suite, grader.engine.cores):
the result is the one a grading in one sandbox gives, test for test, a forbidden shortcut found
at run time in either sandbox included; a grading splits only where a core is free."""

import json
import subprocess
import sys

import pytest

from grader.engine import cores, grading
from submissions import corpus, dumps, make_submission
from test_redteam_round4 import answer_cells

SEED = 424242


def verdicts(result):
    return [(t["number"], t["status"], t["score"], t["output"], t.get("shortcut"), t.get("diagnosis"))
            for t in result["tests"]]


@pytest.fixture
def sandboxes(monkeypatch):
    """The sandboxes the gradings made, in the order they were made."""
    made = []

    class Counted(grading.Sandbox):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)
    monkeypatch.setattr(grading, "Sandbox", Counted)
    return made


def _entries():
    """A reference and a wrong or dishonest notebook of each assignment: a planted mistake,
    a forbidden shortcut, an attack, where the assignment has one; and routes to torch's
    kernels that only the run-time guard finds, one per exercise of a2."""
    chosen = []
    for assignment in ("a1_cross_correlation", "a2_padding_stride_channels", "a3_output_shapes",
                       "a4_pooling", "a5_lenet"):
        entries = [e for e in corpus(assignment) if "cuda" not in e.needs and e.loses]
        shortcut = [e for e in entries if "shortcut" in e.name or "unfold" in e.name]
        attack = [e for e in entries if e.name.startswith("attack")]
        chosen += [(assignment, None)] + [(assignment, e) for e in (shortcut[:1] or entries[:1]) + attack[:1]]
    return chosen + [("a2_padding_stride_channels", "a2_names"), ("a1_cross_correlation", "a1_mkldnn_layout")]


def _notebook(assignment, entry):
    if entry is None:
        return make_submission(assignment)
    if isinstance(entry, str):
        return make_submission(assignment, answer_cells(entry), reference=False)
    return entry.submission()


@pytest.mark.parametrize("assignment,entry", _entries(), ids=lambda v: getattr(v, "name", v))
def test_a_split_grading_gives_the_result_of_one_sandbox(assignment, entry, sandboxes, tmp_path, monkeypatch):
    monkeypatch.setattr(cores, "LOCK_DIR", tmp_path)  # this test's own cores: a split is not left to chance
    data = _notebook(assignment, entry)
    split = grading.grade(data, assignment, seed=SEED)
    made = 2 if cores.count() >= 2 else 1
    assert len(sandboxes) == made
    whole = grading.grade(data, assignment, seed=SEED, split=False)
    assert len(sandboxes) == made + 1
    assert verdicts(split) == verdicts(whole), dumps(split)
    assert split["score"] == whole["score"]
    assert split["notes"] == whole["notes"]
    assert [t["number"] for t in split["tests"]] == [t["number"] for t in whole["tests"]]  # the suite's order
    if entry is not None:
        assert split["score"] < split["max_score"], dumps(split)
    if hasattr(entry, "loses"):
        assert {t["id"] for t in split["tests"] if t["status"] != "passed"} == set(entry.loses), dumps(split)


def test_no_grading_splits_while_every_core_is_held(sandboxes, tmp_path, monkeypatch):
    monkeypatch.setattr(cores, "LOCK_DIR", tmp_path)
    others = [cores.Held() for _ in range(cores.count())]  # a batch: a grading per core
    try:
        result = grading.grade(make_submission("a1_cross_correlation"), "a1_cross_correlation", seed=SEED)
    finally:
        for held in others:
            held.close()
    assert result["score"] == result["max_score"], dumps(result)
    assert len(sandboxes) == 1


HOLD = """
import json, sys
from pathlib import Path
from grader.engine import cores
cores.LOCK_DIR = Path(sys.argv[1])
gradings = [cores.Held() for _ in range(int(sys.argv[2]))]
print(json.dumps([len(held) for held in gradings]), flush=True)
sys.stdin.readline()
"""


def test_gradings_are_counted_across_processes_and_freed_when_one_dies(tmp_path, monkeypatch):
    """Each grading holds a slot with flock, and a second only where fewer gradings run than
    the machine has cores: another process sees them, and a slot is free again once its holder
    is gone, however it ends."""
    if cores.count() < 2:
        pytest.skip("one core: nothing to split over")
    monkeypatch.setattr(cores, "LOCK_DIR", tmp_path)
    processes = []

    def cores_a_grading_takes():
        with cores.Held() as held:
            held.take_another()
            return len(held)

    def running(gradings):
        """A process that holds `gradings` gradings' slots."""
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), str(gradings)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        processes.append(process)
        assert json.loads(process.stdout.readline()) == [1] * gradings
        return process

    try:
        assert cores_a_grading_takes() == 2  # alone: split
        batch = running(cores.count() - 1)
        assert cores_a_grading_takes() == 1  # beside a grading per core but one: not split
        more = running(1)
        assert cores_a_grading_takes() == 1
        batch.kill()
        batch.wait()
        more.kill()
        more.wait()
        assert cores_a_grading_takes() == 2  # the dead holders' slots are free
    finally:
        for process in processes:
            process.kill()
            process.wait()
