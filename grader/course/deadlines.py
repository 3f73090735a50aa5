"""Deadlines and late credit: course.toml, per-student extensions, the clock.

course.toml (path: CONVGRADE_COURSE_CONFIG, else <course root>/course.toml) has a table per
assignment; an assignment without one is always open with full credit:

    [assignments.a1_cross_correlation]
    opens = 2026-09-01T00:00:00Z
    due = 2026-09-15T23:59:00Z
    late = [{ until = 2026-09-17T23:59:00Z, credit = 0.8 }]

A submission at or before `due` earns credit 1; in a late window (up to its `until`) that
window's credit; before `opens` or after the last window it is refused with a sentence.
An extension (the `extensions` table, `convgrade extend`) moves one student's `due`; the
late windows move by the same amount, `opens` stays.

The server's clock decides. CONVGRADE_CLOCK (tests only) fixes it: an ISO time with an
offset, or `@FILE` naming a file that holds one (read at every call, so a test can move time
without restarting the service).

Times in the database are naive UTC (as everywhere in grader.store.db); times here are aware.
"""

import dataclasses
import datetime
import os
import tomllib
from pathlib import Path

from grader.course import assignments

UTC = datetime.timezone.utc


class ConfigError(Exception):
    """course.toml is missing a field, has a time without an offset, or windows out of order."""


class Refused(Exception):
    """A submission outside the assignment's windows; str() is the sentence the student reads."""


@dataclasses.dataclass(frozen=True)
class LateWindow:
    until: datetime.datetime
    credit: float


@dataclasses.dataclass(frozen=True)
class Deadlines:
    assignment: str
    opens: datetime.datetime | None
    due: datetime.datetime
    late: tuple[LateWindow, ...] = ()
    extended: bool = False

    @property
    def closes(self):
        return self.late[-1].until if self.late else self.due

    def with_due(self, due):
        """These deadlines moved to a new due date: the late windows shift with it."""
        shift = due - self.due
        return dataclasses.replace(self, due=due, extended=True,
                                   late=tuple(LateWindow(w.until + shift, w.credit) for w in self.late))

    def credit_at(self, when):
        """The credit a submission at `when` earns; raises Refused outside every window."""
        if self.opens is not None and when < self.opens:
            raise Refused(f"{self.assignment} opens at {human(self.opens)}")
        if when <= self.due:
            return 1.0
        for window in self.late:
            if when <= window.until:
                return window.credit
        raise Refused(f"{self.assignment} closed at {human(self.closes)}")

    def to_json(self):
        return {"opens": iso(self.opens), "due": iso(self.due), "extended": self.extended,
                "late": [{"until": iso(w.until), "credit": w.credit} for w in self.late]}


# -- the clock -------------------------------------------------------------------------------

def now():
    """The server's time (aware UTC); CONVGRADE_CLOCK overrides it for tests."""
    fixed = os.environ.get("CONVGRADE_CLOCK", "").strip()
    if not fixed:
        return datetime.datetime.now(UTC)
    if fixed.startswith("@"):
        fixed = Path(fixed[1:]).read_text().strip()
    return parse_time(fixed, "CONVGRADE_CLOCK")


def parse_time(text, what="the time"):
    """An ISO time with an offset ('Z' or +hh:mm), as aware UTC; ValueError says what is wrong."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} must be an ISO date and time such as 2026-09-20T23:59:00Z, not {text!r}")
    if moment.tzinfo is None:
        raise ValueError(f"{what} needs an offset (2026-09-20T23:59:00Z, or +02:00), not {text!r}")
    return moment.astimezone(UTC)


def human(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment):
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def to_db(moment):
    return moment.astimezone(UTC).replace(tzinfo=None)


def from_db(moment):
    return moment.replace(tzinfo=UTC) if moment is not None else None


# -- course.toml -----------------------------------------------------------------------------

def config_path():
    return Path(os.environ.get("CONVGRADE_COURSE_CONFIG") or assignments.COURSE_DIR / "course.toml")


_parsed = {}


def course():
    """{assignment: Deadlines} from course.toml ({} when there is none), reread when it changes."""
    path = config_path()
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    if _parsed.get(path, (None,))[0] != stamp:
        _parsed[path] = (stamp, parse(path.read_text(), str(path)))
    return _parsed[path][1]


def policy():
    """The course's `[policy]` table: what a forbidden shortcut costs (grader.engine.shortcuts.apply_policy).

        [policy]
        forbidden_shortcut = "void_exercise"   # default: every check of the exercise scores 0
        # forbidden_shortcut = "fail_check"    # only the check that found it
    """
    path = config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return "void_exercise"
    try:
        table = tomllib.loads(text).get("policy", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}")
    value = table.get("forbidden_shortcut", "void_exercise") if isinstance(table, dict) else table
    if value not in ("void_exercise", "fail_check"):
        raise ConfigError(f'{path}: policy.forbidden_shortcut must be "void_exercise" or "fail_check", '
                          f"not {value!r}")
    return value


def parse(text, where="course.toml"):
    try:
        tables = tomllib.loads(text).get("assignments", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {exc}")
    return {name: _deadlines(name, table, where) for name, table in tables.items()}


def _deadlines(name, table, where):
    def time(value, field):
        if not isinstance(value, datetime.datetime) or value.tzinfo is None:
            raise ConfigError(f"{where}: assignments.{name}.{field} must be a TOML date-time with an "
                              f"offset, e.g. 2026-09-15T23:59:00Z, not {value!r}")
        return value.astimezone(UTC)

    if "due" not in table:
        raise ConfigError(f"{where}: assignments.{name} needs a `due` time")
    opens = time(table["opens"], "opens") if "opens" in table else None
    due = time(table["due"], "due")
    late = tuple(LateWindow(time(w.get("until"), "late.until"), _credit(w.get("credit"), name, where))
                 for w in table.get("late", []))
    moments = [m for m in (opens, due, *(w.until for w in late)) if m is not None]
    if any(a >= b for a, b in zip(moments, moments[1:])):
        raise ConfigError(f"{where}: assignments.{name}: opens, due and each late `until` must be in "
                          "increasing order")
    return Deadlines(name, opens, due, late)


def _credit(value, name, where):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ConfigError(f"{where}: assignments.{name}.late credit must be a number from 0 to 1, not {value!r}")
    return float(value)


# -- one student's deadlines ------------------------------------------------------------------

def effective(assignment, student=None, session=None):
    """The deadlines that apply to `student` (their extension, if any), or None: always open."""
    base = course().get(assignment)
    if base is None or student is None or session is None:
        return base
    from grader.store.db import Extension

    extension = session.get(Extension, (student, assignment))
    return base.with_due(from_db(extension.due)) if extension else base


def credit_at(assignment, student, when, session=None):
    """The credit `student` earns for `assignment` at `when`; raises Refused with the sentence."""
    deadlines = effective(assignment, student, session)
    return 1.0 if deadlines is None else deadlines.credit_at(when)


def credited(submission):
    """The score that counts for a graded submission row: its score times its credit (else None).

    The one number an LMS or a gradebook export should receive.
    """
    result = submission.result if submission.status == "done" else None
    if not result:
        return None
    return round(result["score"] * (submission.credit if submission.credit is not None else 1.0), 6)


def extend(session, student, assignment, due):
    """Give `student` their own due date (aware) for `assignment`; recredit what they submitted."""
    from grader.store.db import Extension

    _require_assignment(assignment)
    if assignment not in course():
        raise ConfigError(f"{assignment} has no deadlines in {config_path()}; there is nothing to extend")
    _require_known(session, student)
    row = session.get(Extension, (student, assignment))
    if row is None:
        row = Extension(student_id=student, assignment=assignment, due=to_db(due))
        session.add(row)
    row.due = to_db(due)
    session.flush()
    return _recredit(session, student, assignment)


def remove_extension(session, student, assignment):
    """Take `student`'s extension of `assignment` away; recredit what they submitted.
    Returns the deadlines that apply again (the course's), or raises ConfigError."""
    from grader.store.db import Extension

    _require_assignment(assignment)
    row = session.get(Extension, (student, assignment))
    if row is None:
        raise ConfigError(f"{student} has no extension of {assignment}")
    session.delete(row)
    session.flush()
    return _recredit(session, student, assignment)


def _require_assignment(assignment):
    if assignment not in assignments.names():
        raise ConfigError(f"no such assignment: {assignment}; this course has {', '.join(assignments.names())}")


def _require_known(session, student):
    """Extensions are for the course's students: on the roster, or one who has submitted
    (signed in through the LMS or JupyterHub)."""
    from sqlalchemy import select

    from grader.store.db import Student, Submission

    if session.get(Student, student) is None and session.scalar(
            select(Submission.id).where(Submission.student_id == student).limit(1)) is None:
        raise ConfigError(f"{student} is not on the roster and has never submitted; "
                          "check the spelling, or import them with `convgrade students import`")


def _recredit(session, student, assignment):
    from sqlalchemy import select

    from grader.store.db import Submission

    deadlines = effective(assignment, student, session)
    for submission in session.scalars(select(Submission).where(
            Submission.student_id == student, Submission.assignment == assignment)):
        moment = from_db(submission.submitted_at or submission.created_at)
        submission.credit = _credit_or_zero(deadlines, moment) if deadlines else 1.0
        submission.credited_score = credited(submission)
    session.commit()
    return deadlines


def _credit_or_zero(deadlines, when):
    try:
        return deadlines.credit_at(when)
    except Refused:
        return 0.0


# -- nbgrader's collected submissions (convgrade grade TREE --gradebook) --------------------

@dataclasses.dataclass(frozen=True)
class Collected:
    credit: float = 1.0
    due: datetime.datetime | None = None          # naive UTC, as nbgrader stores it
    extension: datetime.timedelta | None = None


def collected_at(folder):
    """The collection time `nbgrader collect` writes beside the notebook, if any."""
    stamp = Path(folder) / "timestamp.txt"
    return stamp.read_text().strip() if stamp.is_file() else None


def collected(assignment, student, timestamp):
    """Credit, due date and extension for a submission `nbgrader collect` stamped `timestamp`.

    Extensions come from the service's database when one exists (CONVGRADE_DATABASE_URL, or
    convgrade.sqlite3 in CONVGRADE_DATA_DIR); without a timestamp the credit is full.
    """
    base = course().get(assignment)
    if base is None:
        return Collected()
    with _service_session() as session:
        mine = effective(assignment, student, session)
    credit = 1.0
    if timestamp:
        from nbgrader.utils import parse_utc

        credit = _credit_or_zero(mine, parse_utc(timestamp).replace(tzinfo=UTC))
    extension = mine.due - base.due if mine.due != base.due else None
    return Collected(credit, to_db(base.due), extension)


class _service_session:
    """A session on the service's database if there is one, else None (no extensions)."""

    def __enter__(self):
        from grader.store.settings import Settings

        settings = Settings.from_env()
        configured = os.environ.get("CONVGRADE_DATABASE_URL") or (settings.data_dir / "convgrade.sqlite3").exists()
        self.session = None
        if configured:
            from grader.store.db import sessions_for

            self.session = sessions_for(settings.database_url)()
        return self.session

    def __exit__(self, *_):
        if self.session is not None:
            self.session.close()
