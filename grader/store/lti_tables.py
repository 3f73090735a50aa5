"""The LTI tables: launch-data cache, launch links (AGS), course contexts (NRPS), the passback outbox."""

import datetime
import functools

from sqlalchemy import DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from grader.store.db import Base, engine_for, utcnow


class LaunchCache(Base):
    """pylti1p3's key/value launch storage: OIDC state, nonces, validated launch bodies."""
    __tablename__ = "lti_cache"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    value_json: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)


class LaunchLink(Base):
    """The latest launch of one student into one assignment: where its score goes."""
    __tablename__ = "lti_links"
    student_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    assignment: Mapped[str] = mapped_column(String(200), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(400))
    client_id: Mapped[str] = mapped_column(String(400))
    lti_user_id: Mapped[str] = mapped_column(String(400))
    ags_json: Mapped[str] = mapped_column(Text)     # the launch's AGS endpoint claim
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class CourseContext(Base):
    """A course (LTI context) seen in a launch, with its NRPS memberships URL."""
    __tablename__ = "lti_contexts"
    issuer: Mapped[str] = mapped_column(String(400), primary_key=True)
    context_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(400))
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
    """Create the LTI tables once per process (engine_for may have run before this module loaded)."""
    engine = engine_for(database_url)
    Base.metadata.create_all(engine, tables=[m.__table__ for m in (LaunchCache, LaunchLink,
                                                                     CourseContext, Passback)])
    return engine
