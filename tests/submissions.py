"""Building submitted notebooks the way students make them: the released notebook with
its answer cells filled in. The corpus's format is read by grader.course.corpus (its
docstring describes it); here are the corpus of tests/corpus/ and the judges of its results.
"""

import json
from pathlib import Path

from grader.course.corpus import CorpusEntry, fake_png, make_submission, reference_answers  # noqa: F401

CORPUS = Path(__file__).parent / "corpus"


def corpus(assignment=None, unfilled=False):
    """The entries of one assignment (or all); with unfilled=True the `# todo:` stubs too."""
    pattern = f"{assignment or '*'}/*.py"
    entries = [CorpusEntry(p) for p in sorted(CORPUS.glob(pattern))]
    return [e for e in entries if unfilled or e.todo is None]


def failed_tests(result):
    return {t["id"] for t in result["tests"] if t["status"] != "passed"}


def diagnoses(result):
    """The diagnoses a result's failed checks carry."""
    return {t["diagnosis"] for t in result["tests"] if "diagnosis" in t}


def catalogue(assignment):
    """The assignment's known mistakes, by id: the engine's own finder (grader.engine.hints)."""
    from grader.engine import hints

    return {m.id: m for m in hints.catalogue(assignment)}


def diagnosed_as_planted(found, planted, assignment):
    """Whether the diagnoses `found` (sentences) are those of the mistakes `planted` (ids): none
    planted, none found; else every diagnosis names a planted mistake (beside another only
    where both give the same values on the call that failed: both or neither, never a wrong
    one), and every planted mistake is named (a notebook may plant one in each of two
    exercises)."""
    named = [named_mistakes(d, assignment) for d in found]
    if not planted:
        return not named
    return bool(named) and all(planted & ids for ids in named) and planted <= set().union(*named)


def named_mistakes(diagnosis, assignment):
    """The ids of the mistakes a diagnosis names (one, or several whose values coincide): whole
    names only, as `sentence` joins them, so that a name inside a longer one does not count."""
    from grader.engine.diagnoses import named_in
    return {m.id for m in named_in(diagnosis, catalogue(assignment).values())}


def dumps(result):
    return json.dumps(result, indent=1)[:4000]
