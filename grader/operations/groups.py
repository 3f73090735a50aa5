"""Mistake groups (CONTRACT.md sections 3 and 6): a course's wrong submissions, grouped by what went wrong.

A wrong submission's *signature* is the set of its failed checks, each with the diagnosis the
engine gave it (a known mistake its values match; none when the values match no known one). Two
students whose submissions fail the same checks the same way made the same mistake as far as the
grader can tell, whatever their code looks like. An ungradable notebook has the one signature
UNGRADABLE.

The groups are made from each student's latest graded submission of the assignment, largest
first. The instructor's comment on a group (grader.store.db.GroupComment) is kept by signature,
not by submission, and attached to a result when it is read (`with_comments`): a student who
submits the same mistake tomorrow reads today's comment, and an earlier result in a regrade's
history reads the comment of the group it fell in.
"""

import hashlib
import json
import sys

from sqlalchemy import select

from grader.course import assignments, feedback
from grader.course.feedback import aligned
from grader.store.db import GroupComment, Submission

UNGRADABLE = "(ungradable)"


def signature(result):
    """[(check id, diagnosis or None)] of a result's failed checks, sorted; [] for a right one."""
    if not result.get("gradable", True):
        return [(UNGRADABLE, None)]
    failed = {(test.get("id") or test["number"], test.get("diagnosis"))
              for test in result.get("tests", []) if test.get("status") != "passed"}
    return sorted(failed, key=lambda pair: (pair[0], pair[1] or ""))


def key_of(signature_):
    """The signature's key: SHA-256 of its JSON (the comments table's index)."""
    return hashlib.sha256(json.dumps(signature_).encode()).hexdigest()


def latest_graded(session, assignment, leave_out=()):
    """{student: their latest graded submission of the assignment}, students in `leave_out` left out."""
    query = (select(Submission).where(Submission.assignment == assignment, Submission.status == "done")
             .order_by(Submission.created_at, Submission.id))
    return {s.student_id: s for s in session.scalars(query) if s.student_id not in leave_out}


def groups(session, assignment, leave_out=()):
    """The assignment's mistake groups, largest first: each {key, checks, count, students,
    submissions, message, comment}. `checks` (notebook order): the failed checks with their
    diagnoses; `message`: the first of them as one of the group's submissions reads it;
    `comment`: the instructor's comment ({comment, author, written_at}), or None."""
    members = {}
    for student, submission in latest_graded(session, assignment, leave_out).items():
        found = signature(submission.result)
        if found:
            members.setdefault(key_of(found), []).append(submission)
    comments = current_comments(session, assignment)
    order = feedback.assignment_order(assignment)
    found = [_group(key, rows, comments.get(key), order) for key, rows in members.items()]
    return sorted(found, key=lambda g: (-g["count"], [feedback.natural_key(c["number"]) for c in g["checks"]]))


def _group(key, rows, comment, order):
    newest = max(rows, key=lambda s: (s.created_at, s.id))
    result = feedback.in_notebook_order(newest.result, order)
    failed = [t for t in result.get("tests", []) if t.get("status") != "passed"]
    checks = [{"id": t.get("id") or t["number"], "number": t["number"], "name": t["name"],
               "diagnosis": t.get("diagnosis")} for t in failed]
    if not result.get("gradable", True):
        checks = [{"id": UNGRADABLE, "number": UNGRADABLE, "name": "the notebook could not be graded",
                   "diagnosis": None}]
    first = failed[0] if failed else None
    message = {"number": first["number"], "name": first["name"], "output": first.get("output", ""),
               "diagnosis": first.get("diagnosis")} if first else \
        {"number": UNGRADABLE, "name": "", "output": "; ".join(result.get("format_errors", [])), "diagnosis": None}
    return {"key": key, "checks": checks, "count": len(rows),
            "students": sorted(s.student_id for s in rows), "submissions": [s.id for s in rows],
            "message": {**message, "submission": newest.id},
            "comment": comment.to_json() if comment is not None and comment.comment else None}


# -- the instructor's comments -----------------------------------------------------------------

def current_comments(session, assignment):
    """{signature key: the newest GroupComment row} of the assignment."""
    rows = session.scalars(select(GroupComment).where(GroupComment.assignment == assignment)
                           .order_by(GroupComment.id))
    return {row.signature_key: row for row in rows}


def write_comment(session, assignment, key, comment, author):
    """Set (or, with an empty comment, remove) the comment of the assignment's current group `key`;
    a new row each time, so every earlier comment is kept. Raises LookupError for a key that
    names no current group (the page was out of date)."""
    members = [s for s in latest_graded(session, assignment).values() if key_of(signature(s.result)) == key]
    if not members:
        raise LookupError("that mistake group has no submissions any more: reload the page")
    session.add(GroupComment(assignment=assignment, signature_key=key,
                             signature=json.dumps(signature(members[0].result)),
                             comment=comment.strip(), author=author))
    session.commit()


def with_comments(session, assignment, results):
    """Each result (None stays None) in notebook order, with its group's comment, if the
    instructor wrote one, as `comment` on its first failed check: the one a student reads first
    (an ungradable notebook's, as its last note)."""
    comments, order = current_comments(session, assignment), feedback.assignment_order(assignment)
    return [_commented(feedback.in_notebook_order(result, order), comments) for result in results]


def _commented(result, comments):
    row = comments.get(key_of(signature(result))) if result else None
    if row is None or not row.comment:
        return result
    if not result.get("gradable", True):   # no check ran to carry it: it joins the notes every surface shows
        return {**result, "notes": [*result.get("notes", []), f"Your instructor: {row.comment}"]}
    tests = [dict(t) for t in result["tests"]]
    first = next((t for t in tests if t.get("status") != "passed"), None)
    if first is not None and first.get("hint") != row.comment:   # a comment made its hint is said once
        first["comment"] = row.comment
    return {**result, "tests": tests}


# -- `convgrade groups` ---------------------------------------------------------------------------

def main(args, leave_out=()):
    from grader.store.db import sessions_for
    from grader.store.settings import Settings

    if args.assignment not in assignments.names():
        print(f"convgrade: there is no assignment {args.assignment!r}", file=sys.stderr)
        return 2
    with sessions_for(Settings.from_env().prepare().database_url)() as session:
        found = groups(session, args.assignment, leave_out)
    if args.json:
        print(json.dumps({"assignment": args.assignment, "groups": found}, indent=1))
        return 0
    if found:
        rows = [["count", "failed checks", "first message", "comment", "students"]]
        rows += [[g["count"], _checks_words(g["checks"]), _one_line(g["message"]["output"]),
                  _one_line(g["comment"]["comment"]) if g["comment"] else "", ", ".join(g["students"])]
                 for g in found]
        print("\n".join(aligned(rows, right=(0,))))
    print(f"convgrade: {sum(g['count'] for g in found)} wrong submission(s) of {args.assignment} "
          f"in {len(found)} group(s)", file=sys.stderr)
    return 0


def _checks_words(checks):
    """'pool2d.1-9 pool2d.11 corr2d.3 (the diagnosis)': runs of undiagnosed checks of one
    exercise as ranges, so the stubs' row stays short."""
    runs = []   # [exercise, first, last] or a diagnosed check's words
    for check in checks:
        exercise, _, n = check["number"].rpartition(".")
        if check["diagnosis"] or not n.isdigit():
            runs.append(check["number"] + (f" ({check['diagnosis']})" if check["diagnosis"] else ""))
        elif runs and isinstance(runs[-1], list) and runs[-1][0] == exercise and runs[-1][2] == int(n) - 1:
            runs[-1][2] = int(n)
        else:
            runs.append([exercise, int(n), int(n)])
    return " ".join(run if isinstance(run, str) else f"{run[0]}.{run[1]}" + (f"-{run[2]}" if run[2] > run[1] else "")
                    for run in runs)


def _one_line(text, width=60):
    line = " ".join(str(text).replace("\\n", " ").split())
    return line if len(line) <= width else line[:width - 1] + "…"
