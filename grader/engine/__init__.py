"""The trusted grading engine: `grade()`, the runner, the checks API the hidden suites are
written with, the student proxy, and the sandbox's trusted half (processes held from outside).

Every verdict is made here, from values received over the wire (grader.wire) and checked.
It imports the course and the wire; never the sandbox's own code (grader.untrusted), which it
starts as a separate program.
"""
