"""Gradescope: the course's hidden suites as a Gradescope autograder (CONTRACT.md section 6).

    build.build(out_zip, assignment=None)   `convgrade gradescope OUT.zip [--assignment A]`
    run.main()                              what the zip's run_autograder runs on Gradescope
    results.to_gradescope(result)           convgrade's result -> Gradescope's results.json

The zip holds setup.sh, run_autograder, requirements.txt (pinned like docker/requirements.lock),
the grader package, the hidden suites and the instructor's source notebooks of the chosen
assignments: nothing else of the course.
"""
