"""Who launched what: an LTI user becomes a convgrade student; a launch records where scores go.

A student id is `lti:<sub>@<issuer host>`: stable across launches and NRPS imports, and
distinct from roster ids. A student created here gets a random token nobody is shown (they
sign in through the LMS); an instructor can still issue one with `students import --reissue`.
"""

import json
import os
from urllib.parse import urlparse

from pylti1p3.tool_config import ToolConfJsonFile
from sqlalchemy import select

from grader.store.db import Student, hash_token, new_token, sessions_for, utcnow
from grader.store.lti_tables import CourseContext, LaunchLink, ensure_tables

CONFIG_ENV = "CONVGRADE_LTI_CONFIG"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
RESOURCE_LINK_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/resource_link"


class LtiNotConfigured(Exception):
    pass


_configs = {}


def tool_config():
    """The platforms this tool trusts (pylti1p3's JSON format), re-read when the file changes."""
    path = os.environ.get(CONFIG_ENV, "")
    if not path or not os.path.isfile(path):
        raise LtiNotConfigured(f"LTI is not configured: set {CONFIG_ENV} to the platforms' JSON file")
    key = (path, os.stat(path).st_mtime_ns)
    if key not in _configs:
        _configs.clear()
        _configs[key] = ToolConfJsonFile(path)
    return _configs[key]


def registration(issuer, client_id):
    config = tool_config()
    if config.check_iss_has_one_client(issuer):
        return config.find_registration(issuer)
    return config.find_registration_by_params(issuer, client_id)


def student_id_for(issuer, lti_user_id):
    host = urlparse(issuer).netloc or issuer
    return f"lti:{lti_user_id}@{host}"[:200]


def ensure_student(database_url, student_id, name=""):
    """Create the student row if missing (a token nobody knows); refresh the name."""
    ensure_tables(database_url)
    with sessions_for(database_url)() as session:
        student = session.get(Student, student_id)
        if student is None:
            session.add(Student(student_id=student_id, name=name, token_hash=hash_token(new_token())))
        elif name and student.name != name:
            student.name = name
        session.commit()


def assignment_of(launch, known):
    """The assignment an LMS link names: custom parameter `assignment`, else the link's title."""
    custom = (launch.get(CUSTOM_CLAIM) or {}).get("assignment", "")
    title = (launch.get(RESOURCE_LINK_CLAIM) or {}).get("title", "")
    for candidate in (custom, title):
        candidate = (candidate or "").strip()
        if candidate in known:
            return candidate
    return None


def record_launch(database_url, launch, student_id, assignment):
    """Remember the launch's AGS endpoint for (student, assignment) and its course's NRPS endpoint."""
    issuer, client_id = launch["iss"], _client_id(launch)
    with sessions_for(database_url)() as session:
        if assignment and launch.get(AGS_CLAIM):
            session.merge(LaunchLink(student_id=student_id, assignment=assignment, issuer=issuer,
                                     client_id=client_id, lti_user_id=launch["sub"],
                                     ags_json=json.dumps(launch[AGS_CLAIM]), updated_at=utcnow()))
        context = launch.get(CONTEXT_CLAIM) or {}
        if context.get("id") and launch.get(NRPS_CLAIM):
            session.merge(CourseContext(issuer=issuer, context_id=context["id"], client_id=client_id,
                                        title=context.get("title", ""),
                                        nrps_json=json.dumps(launch[NRPS_CLAIM]), updated_at=utcnow()))
        session.commit()


def link_for(database_url, student_id, assignment):
    ensure_tables(database_url)
    with sessions_for(database_url)() as session:
        return session.get(LaunchLink, (student_id, assignment))


def contexts(database_url):
    ensure_tables(database_url)
    with sessions_for(database_url)() as session:
        return list(session.scalars(select(CourseContext).order_by(CourseContext.updated_at.desc())))


def _client_id(launch):
    aud = launch.get("aud")
    return aud[0] if isinstance(aud, list) else aud
