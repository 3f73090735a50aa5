"""`convgrade students import roster.csv`: one token per student, shown once, stored hashed."""

import csv

from sqlalchemy import select

from grader.store import csvfile
from grader.store.db import Student, hash_token, new_token, sessions_for


class RosterError(Exception):
    pass


def read_roster(path):
    """Rows of (student_id, name) from a CSV with a student_id column and an optional name column."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "student_id" not in reader.fieldnames:
            raise RosterError(f"{path} needs a header row with a 'student_id' column (and optionally 'name')")
        rows = [((row.get("student_id") or "").strip(), (row.get("name") or "").strip()) for row in reader]
    if any(not student_id for student_id, _ in rows):
        raise RosterError(f"{path} has a row without a student_id")
    return rows


def import_roster(settings, path, reissue=False):
    """Add the roster's students; return [(student_id, token)] for every token issued now.

    Students already imported keep their token unless `reissue` is set.
    """
    issued = []
    with sessions_for(settings.database_url)() as session:
        existing = {s.student_id: s for s in session.scalars(select(Student))}
        for student_id, name in read_roster(path):
            student = existing.get(student_id)
            if student is not None and not reissue:
                student.name = name or student.name
                continue
            token = new_token()
            if student is None:
                student = existing[student_id] = Student(student_id=student_id, name=name)
                session.add(student)
            student.token_hash = hash_token(token)
            student.name = name or student.name
            issued.append((student_id, token))
        session.commit()
    return issued


def write_tokens(issued, out):
    # "\n", not csv's default "\r\n": a token cut from a line must not keep a carriage return
    writer = csvfile.Writer(out, lineterminator="\n")
    writer.writerow(["student_id", "token"])
    writer.writerows(issued)
