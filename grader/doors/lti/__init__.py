"""LTI 1.3 Advantage for the grader service (CONTRACT.md section 6, LMS), built on pylti1p3.

    views.bp       /lti/login, /lti/launch, /lti/jwks and the instructor's /lti/roster
    storage        pylti1p3's launch data (state, nonces, launches) in the service database,
                   so every worker process sees it; a nonce is good for one launch only
    links          who launched what: LTI user -> convgrade student, the AGS endpoint per
                   (student, assignment), the NRPS endpoint per course
    passback       the outbox: a graded submission of a launched student becomes a row in
                   `passbacks`, sent through AGS, retried with backoff until the LMS takes it
    roster         NRPS members -> students (`convgrade lti roster`, POST /lti/roster)

Platforms are registered in the JSON file named by CONVGRADE_LTI_CONFIG, in pylti1p3's
ToolConfJsonFile format. Without it the /lti/ routes answer 404 and nothing else changes.
"""
