"""The database: students (hashed tokens), submissions (which are also the embedded queue),
per-student deadline extensions, every earlier result of a regraded submission, the
instructor's comments on mistake groups, signed-in browsers (web_sessions) and the
per-student upload slot of the rate limit."""

import datetime
import functools
import hashlib
import json
import os
import secrets
import time

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, create_engine, event, exc, inspect, literal
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from grader.store.settings import new_token  # noqa: F401  (a student's token: roster, LTI)

STATUSES = ("queued", "running", "done", "error")


class Base(DeclarativeBase):
    pass


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Student(Base):
    __tablename__ = "students"
    student_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(400), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class Submission(Base):
    __tablename__ = "submissions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    student_id: Mapped[str] = mapped_column(String(200), index=True)
    assignment: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(400), default="")
    path: Mapped[str] = mapped_column(String(400))          # relative to the data dir: the bytes uploaded
    # what was graded: the same notebook normalised (nbformat 4, validated, outputs dropped);
    # None for a submission stored before the service kept it (its `path` is read then)
    graded_path: Mapped[str | None] = mapped_column(String(400), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)
    # deadlines (grader/course/deadlines.py): the server's clock at upload, and the credit it earned
    submitted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)
    credit: Mapped[float] = mapped_column(Float, default=1.0)
    credited_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    # regrades (grader/operations/regrade.py): queued again behind new work, replaying this seed
    regrading: Mapped[bool] = mapped_column(Boolean, default=False)
    replay_seed: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def result(self):
        return json.loads(self.result_json) if self.result_json else None

    @property
    def graded_notebook(self):
        """The notebook every grading and report reads, relative to the data dir."""
        return self.graded_path or self.path

    def to_json(self, with_result=True, history=()):
        """The API's view; `history` is the submission's PastResult rows, oldest first."""
        data = {"id": self.id, "status": self.status, "student_id": self.student_id,
                "assignment": self.assignment, "filename": self.filename,
                "attempts": self.attempts, "created_at": _iso(self.created_at),
                "started_at": _iso(self.started_at), "finished_at": _iso(self.finished_at)}
        if self.status == "done" and with_result:
            data["result"] = self.result
            data["score"], data["max_score"] = self.result["score"], self.result["max_score"]
        if self.status == "error":
            data["error"] = self.error
        data.update(submitted_at=_iso(self.submitted_at or self.created_at), credit=self.credit,
                    credited_score=self.credited_score if self.status == "done" else None)
        if with_result:
            data["history"] = [r.to_json() for r in history]
        return data


class Extension(Base):
    """One student's own due date for one assignment (`convgrade extend`)."""
    __tablename__ = "extensions"
    student_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    assignment: Mapped[str] = mapped_column(String(200), primary_key=True)
    due: Mapped[datetime.datetime] = mapped_column(DateTime)     # naive UTC, like every time here
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class PastResult(Base):
    """A result a regrade replaced: append-only, one row per earlier grading."""
    __tablename__ = "results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(String(32), index=True)
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    credit: Mapped[float] = mapped_column(Float, default=1.0)
    credited_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    graded_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)
    replaced_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def result(self):
        return json.loads(self.result_json) if self.result_json else None

    def to_json(self):
        return {"result": self.result, "error": self.error, "credit": self.credit,
                "credited_score": self.credited_score, "graded_at": _iso(self.graded_at),
                "replaced_at": _iso(self.replaced_at)}


class GroupComment(Base):
    """The instructor's comment on a mistake group (grader.operations.groups): append-only like
    the results, one row per edit; the group's comment is its newest row ("" once removed)."""
    __tablename__ = "group_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment: Mapped[str] = mapped_column(String(200))
    signature_key: Mapped[str] = mapped_column(String(64), index=True)   # SHA-256 of `signature`
    signature: Mapped[str] = mapped_column(Text)      # JSON: [[check id, diagnosis or null], ...]
    comment: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    written_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)

    def to_json(self):
        return {"comment": self.comment, "author": self.author, "written_at": _iso(self.written_at)}


class WebSession(Base):
    """A signed-in browser. Its cookie holds only a random id, stored here hashed (the table
    names no live cookie); the student's or instructor's token is never in a cookie."""
    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    student_id: Mapped[str] = mapped_column(String(200), index=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    via: Mapped[str] = mapped_column(String(16))              # "token" (the sign-in form) or "lti"
    credential_hash: Mapped[str] = mapped_column(String(64), default="")  # the token it was opened with
    frame_ancestors: Mapped[str] = mapped_column(Text, default="")  # origins that may frame its pages
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    seen_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class UploadSlot(Base):
    """When each student's last upload was accepted: the rate limit takes this one row in a single
    conditional UPDATE (or its first INSERT), so of simultaneous uploads exactly one wins."""
    __tablename__ = "upload_slots"
    student_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    taken_at: Mapped[datetime.datetime] = mapped_column(DateTime)


def _iso(moment):
    return moment.isoformat() + "Z" if moment else None


@functools.cache
def engine_for(url):
    """One engine per URL per process; SQLite in WAL mode with a generous busy timeout."""
    sqlite = url.startswith("sqlite")
    if sqlite:
        _create_private(make_url(url).database)
    engine = create_engine(url, connect_args={"timeout": 60} if sqlite else {},
                           pool_pre_ping=not sqlite)
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    create_schema(engine)
    return engine


def create_schema(engine, attempts=10):
    """New tables, then the columns an older database lacks. Processes that start on a new
    database at once (gunicorn's workers, the queue's) race for each CREATE and ALTER: one
    wins, the others fail on it and try again, and then find it done."""
    for attempt in range(attempts):
        try:
            Base.metadata.create_all(engine)
            _add_missing_columns(engine)
            return
        except (exc.OperationalError, exc.ProgrammingError, exc.IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _add_missing_columns(engine):
    """create_all makes new tables, never new columns: give an older database the columns it
    lacks (deadlines, regrades), with their defaults, so an existing data dir keeps working."""
    existing = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            have = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                ddl = f"ALTER TABLE {table.name} ADD COLUMN {column.name} {column.type.compile(engine.dialect)}"
                if column.default is not None and column.default.is_scalar:
                    value = literal(column.default.arg, column.type)
                    ddl += " DEFAULT " + str(value.compile(engine, compile_kwargs={"literal_binds": True}))
                connection.exec_driver_sql(ddl)


def _create_private(path):
    """Create a SQLite file 0600 before SQLite does (it would follow the umask); its -wal and
    -shm files take the database file's mode."""
    if path and path != ":memory:" and not path.startswith("file:"):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def _sqlite_pragmas(connection, _record):
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


@functools.cache
def sessions_for(url):
    return sessionmaker(engine_for(url), expire_on_commit=False)


def new_id():
    return secrets.token_hex(16)


def hash_token(token):
    """Tokens are 192 random bits, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()
