"""Which known mistake a wrong answer's values fit: a diagnosis from values, never from source.

Each assignment keeps a catalogue of its exercises' known mistakes beside its suite
(`autograde_tests/<assignment>/mistakes.py`): a `Mistake` computes, from the inputs of the
call that failed, what an answer with that mistake returns. A check opts in by passing the
mistakes of its call to `grader.engine.checks.expect_close` (or a suite's value helper built on
`values_differ`); when the student's values fail the check and fit a mistake's values within
the check's tolerance, and that mistake's values are told apart from the correct ones on
that input, the failure carries one sentence naming the mistake and the notebook's section
that explains it. A diagnosis is feedback only: it is computed after the verdict and changes
no score. When two mistakes fit the same values, the sentence names both. A check of several
calls, or of plain values (sizes, shapes), asks `diagnose_calls` with its own comparison.

Set CONVGRADE_DIAGNOSES=off (read once, at import) to grade without diagnoses, for measuring
what they cost (bench/diagnoses.py).
"""

import os
from dataclasses import dataclass
from typing import Callable

import torch

ENABLED = os.environ.get("CONVGRADE_DIAGNOSES", "on").strip().lower() not in ("0", "off", "no", "false")


@dataclass(frozen=True)
class Mistake:
    """A known mistake: `id` (stable, for the corpus and the instructor's groups), `name` (a noun
    phrase a student recognises: "a kernel flipped by 180 degrees"), `section` (the title of the
    notebook section that explains it) and `returns`, which computes from the failing call's
    inputs, passed by the names `inputs(...)` gave them, what an answer with this mistake
    returns (a tensor; None where the mistake says nothing about these inputs)."""
    id: str
    name: str
    section: str
    returns: Callable

    def sentence(self):
        return sentence([self])


def sentence(mistakes):
    """One sentence naming the mistakes the values fit and where the notebook explains them."""
    names = " or ".join(m.name for m in mistakes)
    sections = " and ".join(dict.fromkeys(f"“{m.section}”" for m in mistakes))
    return f"Your values are exactly what {names} gives; the notebook explains this under {sections}."


def named_in(diagnosis, mistakes):
    """The mistakes among `mistakes` that the sentence `diagnosis` names: whole names only, as
    `sentence` joins them, since one mistake's name may lie inside another's."""
    return [m for m in mistakes if any(f"{before}{m.name}{after}" in diagnosis
                                       for before in ("what ", " or ") for after in (" gives", " or "))]


def diagnose(actual, expected, values, mistakes, same):
    """The sentence for the mistakes among `mistakes` whose values on the inputs `values` (by
    name) `actual` fits while the correct `expected` does not, `same(a, b)` being the check's
    own comparison (shape and values, its tolerance); None when none fits, when diagnoses are
    off or the inputs are unknown."""
    return diagnose_calls([(actual, expected, values)], mistakes, same)


def diagnose_calls(calls, mistakes, same):
    """`diagnose` for a check that makes several calls, `calls` being (actual, expected, values)
    for each: a mistake fits when the student's value fits its value on every call it says
    something about, and its values are told apart from the correct ones on at least one of
    them. Values of any kind (tensors, ints, tuples) that `same` compares."""
    if not ENABLED or not mistakes or any(values is None for _, _, values in calls):
        return None
    fitting = [mistake for mistake in mistakes if _fits(mistake, calls, same)]
    return sentence(fitting) if fitting else None


def _fits(mistake, calls, same):
    told_apart = False
    for actual, expected, values in calls:
        wrong = _returns(mistake, values)
        if wrong is None:
            continue
        if not same(actual, wrong):
            return False
        told_apart = told_apart or not same(expected, wrong)
    return told_apart


def _returns(mistake, values):
    """What `mistake` returns on these inputs; None where it cannot be computed for them (a
    mistake that needs a larger input, an output that would be empty)."""
    try:
        with torch.no_grad():
            value = mistake.returns(**values)
    except (RuntimeError, ValueError, IndexError, TypeError):
        return None
    if isinstance(value, torch.Tensor):
        return value if value.numel() > 0 else None
    return value
