"""A mistake group's comment made a permanent hint of its check, for next term.

The group's comment is attached to its first failed check (grader.operations.groups); the hint
goes to the same check, keyed by the mistake its failure was diagnosed as (none when it was not
diagnosed: then it reaches every failure of the check without a hint of its own). The instructor
sees the unified diff of the hint table first and confirms it; the write is refused when the
table or the comment changed after the diff was shown, so what is written is what was reviewed.
"""

import sys

from grader.course import assignments, hints
from grader.engine.hints import mistakes_named
from grader.operations import groups


class Stale(Exception):
    """The table changed after its diff was shown: show the diff again."""


def proposal(session, assignment, key, leave_out=()):
    """{check, mistake, text, old, new, diff, base} for the hint the comment of the assignment's
    group `key` (or a unique prefix of it) becomes. LookupError with a sentence when there is no
    such group, or it has no comment, or nothing to attach it to."""
    found = [g for g in groups.groups(session, assignment, leave_out) if g["key"].startswith(key)]
    if len(found) != 1 or not key:
        raise LookupError(f"no single mistake group of {assignment} has the key {key!r}" if not found or not key
                          else f"{len(found)} mistake groups of {assignment} start with {key!r}: give more of the key")
    group = found[0]
    if not group["comment"]:
        raise LookupError("that mistake group has no comment to make a hint of: write one first")
    first = group["checks"][0]
    if first["id"] == groups.UNGRADABLE:
        raise LookupError("a notebook that cannot be graded has no check to carry a hint")
    named = mistakes_named(assignment, first["diagnosis"])
    mistake = named[0] if named else None
    old = hints.current_text(assignment)
    new = hints.with_hint(old, first["id"], mistake, group["comment"]["comment"], assignment)
    return {"check": first["id"], "number": first["number"], "mistake": mistake, "text": group["comment"]["comment"],
            "old": old, "new": new, "diff": hints.diff(assignment, old, new), "base": hints.fingerprint(f"{old}\0{new}")}


def write(assignment, found, reviewed):
    """Write the table of `found` (a proposal made now), if it is the change whose diff was shown
    (its `base` was `reviewed`): neither the table nor the comment changed in between."""
    if found["base"] != reviewed:
        raise Stale(f"autograde_tests/{assignment}/{hints.FILE} or the group's comment changed since the diff "
                    "was shown: look at the diff again")
    hints.parse(found["new"])   # never write a table grading could not read
    hints.path(assignment).write_text(found["new"], encoding="utf-8")


# -- `convgrade hints` -----------------------------------------------------------------------------

def main(args, leave_out=()):
    from grader.store.db import sessions_for
    from grader.store.settings import Settings

    if args.assignment not in assignments.names():
        print(f"convgrade: there is no assignment {args.assignment!r}", file=sys.stderr)
        return 2
    with sessions_for(Settings.from_env().prepare().database_url)() as session:
        try:
            found = proposal(session, args.assignment, args.from_group, leave_out)
        except LookupError as exc:
            print(f"convgrade: {exc}", file=sys.stderr)
            return 2
    if not found["diff"]:
        print(f"convgrade: {hints.path(args.assignment)} already has this hint", file=sys.stderr)
        return 0
    print(found["diff"], end="")
    if not args.yes and not _asked(f"Write this hint of {found['number']} to {hints.path(args.assignment)}? [y/N] "):
        print("convgrade: nothing written", file=sys.stderr)
        return 1
    try:
        write(args.assignment, found, found["base"])
    except Stale as exc:
        print(f"convgrade: {exc}", file=sys.stderr)
        return 2
    print(f"convgrade: wrote {hints.path(args.assignment)}: every later grading shows the hint with "
          f"{found['number']}'s failure; commit it with the suite", file=sys.stderr)
    return 0


def _asked(question):
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")
