"""Who launched what: an LTI user becomes a convgrade student; a launch records where scores go.

An LTI user is (issuer, client id, deployment, sub), whole: two platforms on one host, or two
registrations of one platform, never share a student. The student id made for a new user is
`lti:<sub>@<issuer host>#<digest of the four>`: readable, stable across launches and NRPS
imports, and distinct from roster ids; the `lti_identities` table maps the user to it (a
database from before this keeps its students' old ids). A student created here gets a
random token nobody is shown (they sign in through the LMS); an instructor can still issue
one with `students import --reissue`.

Every launch is kept (`lti_launches`): a submission's score goes to the line item of the
launch it was made under (launch_for), so a student in two courses gets each score in the
course it came from, a regrade included.
"""

import hashlib
import json
import os
from urllib.parse import urlparse

from pylti1p3.exception import LtiException
from pylti1p3.tool_config import ToolConfJsonFile
from sqlalchemy import select

from grader.store.db import Student, hash_token, new_token, sessions_for, utcnow
from grader.store.lti_tables import CourseContext, Identity, Launch, ensure_tables

CONFIG_ENV = "CONVGRADE_LTI_CONFIG"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
RESOURCE_LINK_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


class LtiNotConfigured(Exception):
    pass


class UnknownPlatform(LtiException):
    """An issuer, client id or deployment that no registration names: a refusal, never a crash."""


class Platforms(ToolConfJsonFile):
    """pylti1p3's JSON tool configuration, where an unknown issuer or client id is an
    UnknownPlatform (pylti1p3 itself raises a bare Exception)."""

    def get_iss_config(self, iss, client_id=None):
        entry = self._config.get(iss)
        entries = entry if isinstance(entry, list) else [entry] if entry else []
        for item in entries:
            if (client_id and item["client_id"] == client_id) or (
                    not client_id and (item.get("default") or len(entries) == 1)):
                return item
        if not entries:
            raise UnknownPlatform(f"no platform with the issuer {iss!r} is registered with this tool")
        raise UnknownPlatform(f"the platform {iss!r} has no registration with the client id {client_id!r}")


_configs = {}


def tool_config():
    """The platforms this tool trusts (pylti1p3's JSON format), re-read when the file changes."""
    path = os.environ.get(CONFIG_ENV, "")
    if not path or not os.path.isfile(path):
        raise LtiNotConfigured(f"LTI is not configured: set {CONFIG_ENV} to the platforms' JSON file")
    key = (path, os.stat(path).st_mtime_ns)
    if key not in _configs:
        _configs.clear()
        _configs[key] = Platforms(path)
    return _configs[key]


def registration(issuer, client_id, deployment_id=None):
    """The registration of (issuer, client id), checking the deployment when one is named;
    UnknownPlatform when the tool has none."""
    config = tool_config()
    if config.check_iss_has_one_client(issuer):
        found = config.find_registration(issuer)
        if client_id and found.get_client_id() != client_id:
            raise UnknownPlatform(f"the platform {issuer!r} has no registration with the client id {client_id!r}")
    else:
        found = config.find_registration_by_params(issuer, client_id)
    if deployment_id and not config.find_deployment_by_params(issuer, deployment_id, found.get_client_id()):
        raise UnknownPlatform(f"the platform {issuer!r} has no deployment {deployment_id!r} of this tool")
    return found


def student_id_for(issuer, client_id, deployment_id, lti_user_id):
    """A new student's id: readable, and unique to the whole identity by its digest."""
    digest = hashlib.sha256(json.dumps([issuer, client_id, deployment_id, lti_user_id]).encode()).hexdigest()[:20]
    host = urlparse(issuer).netloc or issuer
    return f"lti:{lti_user_id}@{host}"[:178] + "#" + digest


def student_for(database_url, issuer, client_id, deployment_id, lti_user_id, name=""):
    """The student this LTI user is (created on first sight, with a token nobody knows); the
    name refreshed. An identity carried over without its deployment is claimed here."""
    ensure_tables(database_url)
    with sessions_for(database_url)() as session:
        identity = session.get(Identity, (issuer, client_id, deployment_id, lti_user_id))
        if identity is not None:
            student_id = identity.student_id
        else:
            carried = session.get(Identity, (issuer, client_id, "", lti_user_id))
            if carried is not None:
                student_id = carried.student_id
                session.delete(carried)
                session.flush()
            else:
                student_id = student_id_for(issuer, client_id, deployment_id, lti_user_id)
            session.add(Identity(issuer=issuer, client_id=client_id, deployment_id=deployment_id,
                                 sub=lti_user_id, student_id=student_id))
        student = session.get(Student, student_id)
        if student is None:
            session.add(Student(student_id=student_id, name=name, token_hash=hash_token(new_token())))
        elif name and student.name != name:
            student.name = name
        session.commit()
    return student_id


def assignment_of(launch, known):
    """The assignment an LMS link names: custom parameter `assignment`, else the link's title."""
    custom = (launch.get(CUSTOM_CLAIM) or {}).get("assignment", "")
    title = (launch.get(RESOURCE_LINK_CLAIM) or {}).get("title", "")
    for candidate in (custom, title):
        candidate = (candidate or "").strip()
        if candidate in known:
            return candidate
    return None


def identity_of(launch):
    """(issuer, client id, deployment, sub) of a validated launch."""
    return launch["iss"], client_id_of(launch), launch.get(DEPLOYMENT_CLAIM, ""), launch["sub"]


def record_launch(database_url, launch, student_id, assignment):
    """Keep the launch with its AGS endpoint (its line item), and its course's NRPS endpoint."""
    issuer, client_id, deployment_id, sub = identity_of(launch)
    context = launch.get(CONTEXT_CLAIM) or {}
    with sessions_for(database_url)() as session:
        if assignment and launch.get(AGS_CLAIM):
            session.add(Launch(student_id=student_id, assignment=assignment, issuer=issuer, client_id=client_id,
                               deployment_id=deployment_id, lti_user_id=sub, context_id=context.get("id", ""),
                               resource_link_id=(launch.get(RESOURCE_LINK_CLAIM) or {}).get("id", ""),
                               lineitem=launch[AGS_CLAIM].get("lineitem") or "",
                               ags_json=json.dumps(launch[AGS_CLAIM]), launched_at=utcnow()))
        if context.get("id") and launch.get(NRPS_CLAIM):
            session.merge(CourseContext(issuer=issuer, context_id=context["id"], client_id=client_id,
                                        deployment_id=deployment_id, title=context.get("title", ""),
                                        nrps_json=json.dumps(launch[NRPS_CLAIM]), updated_at=utcnow()))
        session.commit()


def launch_for(database_url, student_id, assignment, submitted_at):
    """The launch a submission belongs to: the student's latest launch of the assignment at or
    before `submitted_at`; else (a submission made before any launch) their first one; None
    when they never launched it."""
    ensure_tables(database_url)
    mine = select(Launch).where(Launch.student_id == student_id, Launch.assignment == assignment)
    with sessions_for(database_url)() as session:
        before = session.scalars(mine.where(Launch.launched_at <= submitted_at)
                                 .order_by(Launch.launched_at.desc(), Launch.id.desc()).limit(1)).first()
        return before or session.scalars(mine.order_by(Launch.launched_at, Launch.id).limit(1)).first()


def launch_by_id(database_url, launch_id):
    ensure_tables(database_url)
    with sessions_for(database_url)() as session:
        return session.get(Launch, launch_id)


def contexts(database_url):
    ensure_tables(database_url)
    with sessions_for(database_url)() as session:
        return list(session.scalars(select(CourseContext).order_by(CourseContext.updated_at.desc())))


def client_id_of(launch):
    aud = launch.get("aud")
    return aud[0] if isinstance(aud, list) else aud
