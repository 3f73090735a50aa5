"""Every hidden check is shown to catch the mistake it is aimed at, and nothing else.

The corpus (tests/corpus/) holds realistic wrong submissions, one mistake each, and
correct solutions written differently from the reference; see tests/submissions.py.
"""

import pytest
import torch

from grader import assignments
from grader.grading import grade
from submissions import corpus, dumps, failed_tests, make_submission

ASSIGNMENTS = assignments.names()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_scores_full_marks(assignment):
    result = grade(make_submission(assignment), assignment)
    assert result["gradable"], dumps(result)
    assert result["max_score"] > 0
    assert result["score"] == result["max_score"], dumps(result)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_stubs_score_zero(assignment):
    result = grade(make_submission(assignment, reference=False), assignment)
    assert result["gradable"], dumps(result)
    assert result["score"] == 0, dumps(result)
    assert len(result["tests"]) == len({t["number"] for t in result["tests"]}) > 0


@pytest.mark.parametrize("entry", corpus(), ids=repr)
def test_corpus_entry_loses_exactly_its_checks(entry):
    if "cuda" in entry.needs and not torch.cuda.is_available():
        pytest.skip("this mistake only shows on a CUDA device, and this machine has none")
    result = grade(entry.submission(), entry.assignment)
    assert result["gradable"], dumps(result)
    known = {t["id"] for t in result["tests"]}
    assert entry.loses <= known, f"{entry} names checks that do not exist: {entry.loses - known}"
    assert failed_tests(result) == entry.loses, dumps(result)


def test_corpus_covers_every_assignment():
    entries = corpus()
    assert len(entries) >= 40
    assert {e.assignment for e in entries} == set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_check_is_failed_by_some_corpus_entry(assignment):
    """A check no wrong submission fails is unproven. (Device checks count their `# needs:
    cuda` entries, which run where a GPU is.)"""
    from grader import runner

    lost = set().union(*(e.loses for e in corpus(assignment)))
    unproven = {c["id"] for c in runner.collect_checks(assignment)} - lost
    assert not unproven, f"no corpus entry fails {sorted(unproven)}"
