"""A failed check's hint from the course's hint table (grader.course.hints), added to the result here,
on the trusted side: the text comes from the course's files, never from the student's process,
and the score is decided before and without it.

A hint keyed by a mistake id applies when the failure's diagnosis names that mistake: the
diagnosis is a sentence made of the catalogued mistakes' names (grader.engine.diagnoses), read
back by `named_in`.
"""

import sys

from grader.course import hints
from grader.engine import runner
from grader.engine.diagnoses import Mistake, named_in


def attach(assignment, tests):
    """Give each failed test of `tests` the `hint` its check has in the table (in place)."""
    try:
        entries = hints.read(assignment)
    except hints.HintTableError as exc:
        # a typo in the course's table must not stop a deadline's gradings: they go on without
        # hints, and the log of whoever grades says which file and what
        print(f"convgrade: grading without hints: {exc}", file=sys.stderr)
        return tests
    if not entries:
        return tests
    for test in tests:
        if test.get("status") != "passed":
            text = hints.for_failure(entries, test["id"], mistakes_named(assignment, test.get("diagnosis")))
            if text:
                test["hint"] = text
    return tests


def mistakes_named(assignment, diagnosis):
    """The ids of the assignment's catalogued mistakes that `diagnosis` names."""
    if not diagnosis:
        return []
    return [m.id for m in named_in(diagnosis, catalogue(assignment))]


def catalogue(assignment):
    """Every Mistake the assignment's suite modules hold (its mistakes.py catalogue and any list of
    them a module keeps), as the runner imported them."""
    runner.collect_checks(assignment)   # the suite's modules are imported once it is collected
    prefix = f"autograde_tests.{assignment}."
    found = {}
    for name, module in list(sys.modules.items()):
        if name.startswith(prefix) and module is not None:
            for value in vars(module).values():
                for item in value if isinstance(value, (list, tuple)) else [value]:
                    if isinstance(item, Mistake):
                        found[item.id] = item
    return list(found.values())
