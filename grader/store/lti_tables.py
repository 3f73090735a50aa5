"""The LTI tables: launch-data cache, identities, launches (AGS line items), course contexts
(NRPS), the passback outbox; and the upgrade of a database from before identities and launches."""

import datetime
import functools
import json
import sys

from sqlalchemy import DateTime, Float, Integer, String, Text, inspect
from sqlalchemy.orm import Mapped, mapped_column

from grader.store.db import Base, create_schema, engine_for, utcnow

LEGACY_LINKS = "lti_links"   # one row per (student, assignment): the latest launch only


class LaunchCache(Base):
    """pylti1p3's key/value launch storage: OIDC state, nonces, validated launch bodies."""
    __tablename__ = "lti_cache"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    value_json: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)


class Identity(Base):
    """One LTI user: (issuer, client id, deployment, sub), whole, is one convgrade student.

    deployment_id is '' for an identity carried over from a database that did not record
    it; the first launch that matches the rest claims it."""
    __tablename__ = "lti_identities"
    issuer: Mapped[str] = mapped_column(String(400), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    sub: Mapped[str] = mapped_column(String(400), primary_key=True)
    student_id: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class Launch(Base):
    """One launch of one student into one assignment, kept: a submission's score goes to the
    line item of the launch it was made under (grader.doors.lti.passback)."""
    __tablename__ = "lti_launches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    student_id: Mapped[str] = mapped_column(String(200), index=True)
    assignment: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(400))
    client_id: Mapped[str] = mapped_column(String(400))
    deployment_id: Mapped[str] = mapped_column(String(400), default="")
    lti_user_id: Mapped[str] = mapped_column(String(400))
    context_id: Mapped[str] = mapped_column(String(400), default="")
    resource_link_id: Mapped[str] = mapped_column(String(400), default="")
    lineitem: Mapped[str] = mapped_column(String(1000), default="")   # the AGS claim's own line item, if any
    ags_json: Mapped[str] = mapped_column(Text)     # the launch's AGS endpoint claim
    launched_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class CourseContext(Base):
    """A course (LTI context) seen in a launch, with its NRPS memberships URL."""
    __tablename__ = "lti_contexts"
    issuer: Mapped[str] = mapped_column(String(400), primary_key=True)
    context_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(400))
    deployment_id: Mapped[str] = mapped_column(String(400), default="")
    title: Mapped[str] = mapped_column(String(400), default="")
    nrps_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class Passback(Base):
    """One score to send to the LMS. 'pending' until the platform accepts it, then 'sent'."""
    __tablename__ = "passbacks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(String(32), index=True)
    student_id: Mapped[str] = mapped_column(String(200))
    assignment: Mapped[str] = mapped_column(String(200))
    launch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)   # the line item it goes to
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    graded_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending, sending, sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)


@functools.cache
def ensure_tables(database_url):
    """Create the LTI tables (and columns) once per process (engine_for may have run before
    this module loaded), and carry an older database's launch links over."""
    engine = engine_for(database_url)
    create_schema(engine)
    upgrade_legacy_links(engine)
    return engine


def upgrade_legacy_links(engine):
    """A database from before identities and launches has `lti_links`: one row per (student,
    assignment) with the issuer, client id and sub of the latest launch, no deployment. Each
    row becomes a launch (its line item) and an identity with deployment '' (claimed by the
    next launch), in one transaction that also drops the old table.

    The old ids kept only the issuer's host, so two users of one host could share a student:
    such a student is carried over to none of them (each gets a student of their own at the
    next launch; the shared one keeps its submissions)."""
    if not inspect(engine).has_table(LEGACY_LINKS):
        return
    with engine.begin() as connection:
        if not inspect(connection).has_table(LEGACY_LINKS):   # another process did it meanwhile
            return
        rows = connection.exec_driver_sql(f"SELECT student_id, assignment, issuer, client_id, lti_user_id, "
                                          f"ags_json, updated_at FROM {LEGACY_LINKS}").mappings().all()
        users = {}
        for row in rows:
            users.setdefault(row["student_id"], set()).add((row["issuer"], row["client_id"], row["lti_user_id"]))
            connection.execute(Launch.__table__.insert().values(
                student_id=row["student_id"], assignment=row["assignment"], issuer=row["issuer"],
                client_id=row["client_id"], deployment_id="", lti_user_id=row["lti_user_id"],
                lineitem=(json.loads(row["ags_json"]) or {}).get("lineitem") or "", ags_json=row["ags_json"],
                launched_at=_as_datetime(row["updated_at"]) or utcnow()))
        for student_id, found in users.items():
            if len(found) > 1:
                print(f"convgrade: {student_id} was {len(found)} LTI users under the old host-only ids; "
                      "each gets a student of their own at their next launch", file=sys.stderr)
                continue
            [(issuer, client_id, sub)] = found
            connection.execute(Identity.__table__.insert().values(
                issuer=issuer, client_id=client_id, deployment_id="", sub=sub, student_id=student_id,
                created_at=utcnow()))
        connection.exec_driver_sql(f"DROP TABLE {LEGACY_LINKS}")


def _as_datetime(value):
    """A timestamp as a driver returns it from a raw query (SQLite: text)."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(str(value))
