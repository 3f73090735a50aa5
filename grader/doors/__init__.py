"""The doors: every way a notebook or a request comes in, each on the layers below.

    service/          the HTTP service, its queue and workers (Flask, RQ)
    lti/              LTI 1.3 launches, roster and score passback for an LMS
    lab/              JupyterLab's Submit button (a jupyter_server extension)
    gradescope/       the Gradescope autograder zip and its runner
    nbgrader_bridge   nbgrader's hidden cells, scored in the kernel
    daemon, pool      the local grading daemon and the warm pool behind `convgrade grade`
    submit            `convgrade submit`'s client (also Lab's)
    metrics           Prometheus metrics of the service

grader.cli, the command line, stands above them all and sends each command to its door.
"""
