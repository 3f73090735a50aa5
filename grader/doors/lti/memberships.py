"""The course roster from the LMS: NRPS members with the Learner role become students.

`convgrade lti roster` (or POST /lti/roster with the instructor's token) reads the members
of every course a launch has come from; students get the same ids a launch gives them.
"""

import json
import sys

from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector

from grader.doors.lti import links

LEARNER = "membership#Learner"


def import_members(database_url):
    """Create a student row for every active learner; return [(student_id, name)]."""
    imported = []
    for context in links.contexts(database_url):
        registration = links.registration(context.issuer, context.client_id)
        nrps = NamesRolesProvisioningService(ServiceConnector(registration), json.loads(context.nrps_json))
        for member in nrps.get_members():
            if member.get("status", "Active") != "Active" or not _is_learner(member):
                continue
            student_id = links.student_for(database_url, context.issuer, context.client_id, context.deployment_id,
                                           member["user_id"], member.get("name", ""))
            imported.append((student_id, member.get("name", "")))
    return imported


def _is_learner(member):
    return any(role == "Learner" or role.endswith(LEARNER) for role in member.get("roles", []))


def main(settings):
    """`convgrade lti roster`: print student_id,name of every learner imported."""
    try:
        imported = import_members(settings.database_url)
    except links.LtiNotConfigured as exc:
        print(f"convgrade: {exc}", file=sys.stderr)
        return 2
    if not links.contexts(settings.database_url):
        print("convgrade: no course has launched convgrade yet; the roster comes from a launch's "
              "Names and Role service", file=sys.stderr)
    print("student_id,name")
    for student_id, name in imported:
        print(f"{student_id},{name}")
    print(f"convgrade: {len(imported)} learner(s) imported", file=sys.stderr)
    return 0
