"""Accepting a submission: validate everything first, then store the file and the row, then queue.

Nothing is written for a request that is refused; the file is fsynced and the row
committed before the caller hears "queued". The per-student rate limit is taken last, in one
atomic statement (take_upload_slot), so of simultaneous uploads exactly one is accepted.
"""

import datetime
import os
import time

import nbformat
from flask import Request, abort, current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from grader.course import assignments, deadlines, notebook
from grader.course.notebook import NotebookError
from grader.store.db import Submission, UploadSlot, new_id, utcnow


class _PartCounter:
    """A request body stream that counts the bytes and multipart delimiters passing through it."""

    def __init__(self, stream, boundary):
        self.stream, self.delimiter, self.parts, self.bytes, self._tail = stream, b"--" + boundary, 0, 0, b""

    def read(self, size=-1):
        data = self.stream.read(size)
        seen = self._tail + data   # the tail is shorter than a delimiter: nothing is counted twice
        self.parts += seen.count(self.delimiter)
        self.bytes += len(data)
        self._tail = seen[-(len(self.delimiter) - 1):]
        return data


class _LimitNamingParser(FormDataParser):
    """werkzeug refuses a form over any of its limits with the same bare 413; say which one."""

    def _parse_multipart(self, stream, mimetype, content_length, options):
        counted = _PartCounter(stream, options.get("boundary", "").encode("ascii"))
        try:
            return super()._parse_multipart(counted, mimetype, content_length, options)
        except RequestEntityTooLarge:
            if self.max_content_length is not None and counted.bytes >= self.max_content_length:
                raise   # the body's size: the service's own sentence names that limit
            # the last delimiter closes the form: n parts pass n + 1 of them
            if self.max_form_parts is not None and counted.parts - 1 > self.max_form_parts:
                raise RequestEntityTooLarge(f"the form has more than {self.max_form_parts} parts, the most "
                                            "one request may have; send the notebook alone") from None
            raise RequestEntityTooLarge(f"a form field other than the notebook is larger than the limit of "
                                        f"{self.max_form_memory_size / 2**20:g} MiB") from None


class UploadRequest(Request):
    """The service's requests: a refused form names the limit it hit."""
    form_data_parser_class = _LimitNamingParser


def accept(identity, upload, assignment=None):
    """Validate and store one upload (a werkzeug FileStorage); return the queued Submission."""
    settings = current_app.config["SETTINGS"]
    raw = upload.read() if upload is not None else b""
    if upload is None or not (upload.filename or raw):
        abort(400, "attach the notebook as the multipart field 'notebook'")
    if not raw:
        abort(422, "the uploaded notebook is empty")
    nb = _notebook(raw)
    assignment = _assignment_of(nb, upload.filename, (assignment or "").strip() or None)
    submitted_at = deadlines.now()
    credit = _credit(identity, assignment, submitted_at)
    slot = _take_rate_limit_slot(identity, settings.resubmit_seconds)
    try:
        return _store(settings, identity, raw, nb, assignment, upload.filename or "notebook.ipynb",
                      submitted_at, credit)
    except BaseException:
        if slot is not None:
            release_upload_slot(current_app.config["SESSIONS"], identity.student_id, *slot)
        raise


def _credit(identity, assignment, when):
    """The late credit the server's clock gives this upload; a 403 outside every window.

    The instructor's own uploads (trying the assignment out) are never refused."""
    if identity.is_admin:
        return 1.0
    with current_app.config["SESSIONS"]() as session:
        try:
            return deadlines.credit_at(assignment, identity.student_id, when, session)
        except deadlines.Refused as refusal:
            abort(403, str(refusal))


def _notebook(raw):
    """The upload as it will be graded: nbformat 4, validated, outputs dropped; a 422 otherwise."""
    try:
        return notebook.read(raw)
    except NotebookError as exc:
        abort(422, "; ".join(exc.errors)[:1000])
    except Exception as exc:  # a hostile file gets its own 422, never a 500
        abort(422, f"the notebook could not be read ({type(exc).__name__})")


def _assignment_of(nb, filename, requested):
    known = assignments.names()
    if requested is not None and requested not in known:
        abort(400, f"there is no assignment {requested[:100]!r}; this grader grades {', '.join(known) or 'nothing yet'}")
    try:
        return requested or notebook.guess_assignment(nb, filename)
    except NotebookError as exc:
        abort(422, "; ".join(exc.errors)[:1000])


def _take_rate_limit_slot(identity, seconds):
    """Take this student's upload slot or answer 429 with the time to wait; None when no limit applies."""
    if seconds <= 0 or identity.is_admin:
        return None
    taken = take_upload_slot(current_app.config["SESSIONS"], identity.student_id, seconds, utcnow())
    if isinstance(taken, float):
        wait = int(taken) + 1
        abort(429, f"you may submit once every {seconds:g} seconds; try again in {wait} seconds",
              retry_after=wait)
    return taken


def take_upload_slot(sessions, student_id, seconds, now):
    """Take the student's slot for an upload at `now`: (now, the slot's previous time) when taken,
    else the seconds to wait. One conditional UPDATE, or the first INSERT of the student's row
    (a primary key), decides: on SQLite and PostgreSQL alike only one of simultaneous callers wins."""
    free_before = now - datetime.timedelta(seconds=seconds)
    with sessions() as session:
        previous = session.scalar(select(UploadSlot.taken_at).where(UploadSlot.student_id == student_id))
        won = session.execute(update(UploadSlot).where(UploadSlot.student_id == student_id,
                                                       UploadSlot.taken_at <= free_before)
                              .values(taken_at=now)).rowcount
        if not won and previous is None:
            # a first upload, or one from before this table: the last stored submission counts
            last = session.scalar(select(func.max(Submission.created_at)).where(Submission.student_id == student_id))
            if last is None or last <= free_before:
                session.add(UploadSlot(student_id=student_id, taken_at=now))
                try:
                    session.flush()
                    won = 1
                except IntegrityError:      # another upload inserted it first
                    session.rollback()
        session.commit()
        if won:
            return now, previous
        latest = session.scalar(select(UploadSlot.taken_at).where(UploadSlot.student_id == student_id))
        if latest is None:
            latest = session.scalar(select(func.max(Submission.created_at)).where(Submission.student_id == student_id))
    return max(0.0, (latest - free_before).total_seconds())


def release_upload_slot(sessions, student_id, taken, previous):
    """Give the slot back after an upload that could not be stored (only if no later upload took it)."""
    with sessions() as session:
        session.execute(update(UploadSlot).where(UploadSlot.student_id == student_id, UploadSlot.taken_at == taken)
                        .values(taken_at=previous or datetime.datetime(1970, 1, 1)))
        session.commit()


def _store(settings, identity, raw, nb, assignment, filename, submitted_at, credit):
    """The bytes as uploaded (what the student sent) and, beside them, the notebook that is
    graded and that every report reads (what `_notebook` made of them)."""
    submission_id = new_id()
    relative, graded = f"submissions/{submission_id}.ipynb", f"submissions/{submission_id}.graded.ipynb"
    _write_durably(settings.data_dir / relative, raw)
    _write_durably(settings.data_dir / graded, nbformat.writes(nb).encode())
    submission = Submission(id=submission_id, student_id=identity.student_id, assignment=assignment,
                            filename=os.path.basename(filename)[:400], path=relative, graded_path=graded,
                            status="queued",
                            attempts=0, created_at=utcnow(), submitted_at=deadlines.to_db(submitted_at),
                            credit=credit)
    try:
        with current_app.config["SESSIONS"]() as session:
            session.add(submission)
            session.commit()
    except BaseException:
        (settings.data_dir / relative).unlink(missing_ok=True)
        (settings.data_dir / graded).unlink(missing_ok=True)
        raise
    current_app.config["QUEUE"].enqueue(submission_id)
    return submission


def _write_durably(path, data):
    temporary = path.with_suffix(".part")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def visible_submission(identity, submission_id):
    """The submission if this caller may see it; a 404 otherwise (never says whose it is)."""
    with current_app.config["SESSIONS"]() as session:
        submission = session.get(Submission, submission_id)
    if submission is None or not (identity.is_admin or submission.student_id == identity.student_id):
        abort(404, f"there is no submission {submission_id!r} of yours")
    return submission


def wait_for(identity, submission_id, seconds):
    """Poll until the submission is done or failed, or `seconds` pass; return its latest state."""
    deadline = time.monotonic() + seconds
    while True:
        submission = visible_submission(identity, submission_id)
        if submission.status in ("done", "error") or time.monotonic() >= deadline:
            return submission
        time.sleep(0.1)


def listing(identity, assignment=None, limit=1000):
    query = select(Submission).order_by(Submission.created_at.desc()).limit(limit)
    if not identity.is_admin:
        query = query.where(Submission.student_id == identity.student_id)
    if assignment:
        query = query.where(Submission.assignment == assignment)
    with current_app.config["SESSIONS"]() as session:
        return list(session.scalars(query))
