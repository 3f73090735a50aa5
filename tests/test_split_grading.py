"""A grading that finds a core free splits its exercises over two sandboxes run at once
(grader.engine.grading, grader.engine.cores): the result is the one a grading in one sandbox
gives, test for test; a grading splits only where a core is free; an exercise's checks are
never split apart (its forbidden-shortcut rule is judged over all of them)."""

import json
import subprocess
import sys

import pytest

from grader.engine import cores, grading
from submissions import corpus, dumps, make_submission

SEED = 424242


def verdicts(result):
    return [(t["number"], t["status"], t["score"], t["output"], t.get("shortcut"), t.get("diagnosis"))
            for t in result["tests"]]


@pytest.fixture
def parts(monkeypatch):
    """How many sandboxes each grading ran (one list entry per grading)."""
    counts, make = [], grading._exercise_groups

    def counted(assignment, count):
        groups = make(assignment, count)
        counts.append(len(groups))
        return groups
    monkeypatch.setattr(grading, "_exercise_groups", counted)
    return counts


def _entries():
    """A reference and a wrong or dishonest notebook of each assignment: a planted mistake,
    a forbidden shortcut, an attack, where the assignment has one."""
    chosen = []
    for assignment in ("a1_cross_correlation", "a2_padding_stride_channels", "a3_output_shapes",
                       "a4_pooling", "a5_lenet"):
        entries = [e for e in corpus(assignment) if "cuda" not in e.needs and e.loses]
        shortcut = [e for e in entries if "shortcut" in e.name or "unfold" in e.name]
        attack = [e for e in entries if e.name.startswith("attack")]
        chosen += [(assignment, None)] + [(assignment, e) for e in (shortcut[:1] or entries[:1]) + attack[:1]]
    return chosen


@pytest.mark.parametrize("assignment,entry", _entries(), ids=lambda v: getattr(v, "name", v))
def test_a_split_grading_gives_the_result_of_one_sandbox(assignment, entry, parts, tmp_path, monkeypatch):
    monkeypatch.setattr(cores, "LOCK_DIR", tmp_path)  # this test's own cores: a split is not left to chance
    data = make_submission(assignment) if entry is None else entry.submission()
    split = grading.grade(data, assignment, seed=SEED)
    whole = grading.grade(data, assignment, seed=SEED, split=False)
    splits = cores.count() >= 2 and len(grading.runner.exercises(assignment)) > 1
    assert parts == [2 if splits else 1, 1], parts
    assert verdicts(split) == verdicts(whole), dumps(split)
    assert split["score"] == whole["score"]
    assert split["notes"] == whole["notes"]
    assert [t["number"] for t in split["tests"]] == [t["number"] for t in whole["tests"]]  # the suite's order
    if entry is not None:
        assert {t["id"] for t in split["tests"] if t["status"] != "passed"} == set(entry.loses), dumps(split)


def test_no_grading_splits_while_every_core_is_held(parts, tmp_path, monkeypatch):
    monkeypatch.setattr(cores, "LOCK_DIR", tmp_path)
    with cores.Held(cores.count()):
        result = grading.grade(make_submission("a1_cross_correlation"), "a1_cross_correlation", seed=SEED)
    assert result["score"] == result["max_score"], dumps(result)
    assert parts == [1]


def test_an_exercise_s_checks_stay_in_one_group():
    for assignment in ("a1_cross_correlation", "a2_padding_stride_channels", "a3_output_shapes", "a5_lenet"):
        groups = grading._exercise_groups(assignment, 2)
        assert len(groups) == 2 and not groups[0] & groups[1], groups
        assert groups[0] | groups[1] == {c["exercise"] for c in grading.runner.collect_checks(assignment)}


HOLD = """
import json, sys
from pathlib import Path
from grader.engine import cores
cores.LOCK_DIR = Path(sys.argv[1])
with cores.Held(int(sys.argv[2])) as held:
    print(json.dumps(len(held)), flush=True)
    sys.stdin.readline()
"""


def test_cores_are_counted_across_processes_and_freed_when_a_holder_dies(tmp_path):
    """A grading process holds its cores with flock: another process sees them taken, and
    they are free again once the holder is gone, however it ends."""
    if cores.count() < 2:
        pytest.skip("one core: nothing to split over")

    def holder(wanted):
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), str(wanted)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return process, json.loads(process.stdout.readline())

    first, got = holder(cores.count() - 1)
    assert got == cores.count() - 1
    second, got = holder(2)
    assert got == 1  # one left
    third, got = holder(2)
    assert got == 0  # none: it grades on one, unsplit
    first.kill()
    first.wait()
    fourth, got = holder(2)
    assert got == min(2, cores.count() - 1)
    for process in (second, third, fourth):
        process.communicate("\n")
